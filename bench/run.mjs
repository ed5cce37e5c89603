#!/usr/bin/env node
// `npm run bench`: the benchmark suite. Generates its own inputs (seeded random walks with a
// timestamp column, as CSV and Parquet), checks outputs before timing anything, takes medians
// of several runs, and writes bench/RESULTS.md and bench/results.json.
//
//   npm run bench                 # everything (about 10 minutes on 2 cores)
//   npm run bench -- --quick      # fewer runs and smaller inputs, to try the harness
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, openAsBlob, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm'
import { kernels, trendflex } from 'trendflex'

import { ROOT, machine, median } from './lib.mjs'

const { values: opt } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string' } } })
const RUNS = Number(opt.runs ?? (opt.quick ? 3 : 5))
const ROWS = opt.quick ? 200_000 : 1_000_000
// Peak RSS must stay flat in rows. 5M x 227 would need a ~6.3 GB Parquet file, past the 4 GiB
// that parquet-wasm (32-bit) can write, so flatness is measured at 2M and the 5M run is recorded
// with its refusal (peak RSS up to the point it stops).
const BIGS = opt.quick ? [1_000_000] : [2_000_000, 5_000_000]
const BIN = join(ROOT, 'bin', 'run.js')
const TIMING = join(ROOT, 'native', 'target', 'release', 'examples', 'timing')
const dir = join(tmpdir(), 'trendflex-bench')
mkdirSync(dir, { recursive: true })
const results = { machine: machine(), date: new Date().toISOString(), runs: RUNS, rows: ROWS }
const log = (...a) => console.error('bench:', ...a)

// ---------------------------------------------------------------- inputs
function walk(n, seed = 7) {
  let s = seed >>> 0
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296)
  const close = new Float64Array(n)
  let p = 100
  for (let i = 0; i < n; i++) close[i] = Math.round((p += rnd() - 0.5) * 1e4) / 1e4
  return close
}

function writeInputs(n, name) {
  const csv = join(dir, `${name}.csv`)
  const pq = join(dir, `${name}.parquet`)
  if (existsSync(csv) && existsSync(pq)) return { csv, pq }
  log(`generating ${n} rows as ${name}.csv and ${name}.parquet`)
  const close = walk(n)
  const t0 = 1_700_000_000_000
  const parts = ['ts,close\n']
  for (let i = 0; i < n; i += 100_000) {
    const lines = []
    for (let j = i; j < Math.min(n, i + 100_000); j++) lines.push(`${t0 + j * 60_000},${close[j]}`)
    parts.push(lines.join('\n') + '\n')
  }
  writeFileSync(csv, parts.join(''))
  const table = arrow.tableFromArrays({ ts: BigInt64Array.from({ length: n }, (_, j) => BigInt(t0 + j * 60_000)), close })
  const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).setMaxRowGroupSize(1 << 17).build()
  writeFileSync(pq, pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props))
  return { csv, pq }
}

// ---------------------------------------------------------------- helpers
/** Runs the CLI under GNU time: wall seconds, CPU seconds (user, system) and peak RSS (MB);
 * throws on failure unless told. `devNull`: stdout goes to /dev/null (no page cache). */
function timeCli(args, { env = {}, allowFailure = false, devNull = false } = {}) {
  const stdio = ['ignore', devNull ? 'ignore' : 'pipe', 'pipe']
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 26, stdio })
  if (r.status !== 0 && !allowFailure) throw new Error(`trendflex ${args.join(' ')} failed: ${r.stderr}`)
  const lines = r.stderr.trim().split('\n')
  const [wall, user, sys, kb] = lines.at(-1).split(' ').map(Number)
  const error = r.status === 0 ? undefined : lines.find((l) => l.startsWith('trendflex:'))
  return { wall, user, sys, rssMB: kb / 1024, status: r.status, error }
}

function repeat(n, f) {
  const runs = Array.from({ length: n }, f)
  const med = (k) => median(runs.map((r) => r[k]))
  return { median_s: med('wall'), user_s: med('user'), sys_s: med('sys'), peak_rss_mb: Math.max(...runs.map((r) => r.rssMB)), runs_s: runs.map((r) => r.wall) }
}

/** Checks a Parquet output: row count, and one result column against the API, bit for bit. */
async function checkParquet(path, rows, prices, period) {
  const file = await pw.ParquetFile.fromFile(await openAsBlob(path))
  const got = file.metadata().fileMetadata().numRows()
  if (got !== rows) throw new Error(`${path}: ${got} rows, expected ${rows}`)
  const t = arrow.tableFromIPC((await file.read({ columns: [`trendflex_${period}`] })).intoIPCStream())
  const col = t.getChild(`trendflex_${period}`).toArray()
  const want = trendflex(prices, period)
  for (let i = period; i < rows; i++) {
    if (Object.is(col[i], want[i]) === false) throw new Error(`${path}: trendflex_${period}[${i}] = ${col[i]}, API says ${want[i]}`)
  }
}

// ---------------------------------------------------------------- 1. kernels
function kernelBench() {
  log('kernels (direct harness, native/core/examples/timing.rs)')
  execFileSync('cargo', ['build', '--release', '--example', 'timing', '--manifest-path', join(ROOT, 'native', 'Cargo.toml')], { stdio: 'ignore' })
  const run = (...a) => JSON.parse(execFileSync(TIMING, a.map(String), { encoding: 'utf8' }))
  const out = { command: 'native/target/release/examples/timing <mode> <kernel> <threads> <reps>', single_p20: {}, batch_5_231: {} }
  for (const k of kernels().available) {
    out.single_p20[k] = run('single', k, 1, 3 * RUNS).ns_per_value
    for (const t of [1, 2]) out.batch_5_231[`${k}/${t}t`] = run('batch', k, t, RUNS).median_ms
  }
  out.write_floor_ms = run('floor', 'scalar', 1, RUNS).median_ms
  return out
}

// ---------------------------------------------------------------- 2. binding overhead
function bindingBench() {
  log('binding overhead (bench/binding.mjs)')
  return JSON.parse(execFileSync(process.execPath, [join(ROOT, 'bench', 'binding.mjs'), '--reps', String(3 * RUNS), '--rounds', '2'], { encoding: 'utf8' }))
}

// ---------------------------------------------------------------- 3. end to end
async function endToEnd() {
  const small = writeInputs(ROWS, `walk-${ROWS}`)
  const prices = walk(ROWS)
  const out = join(dir, 'out.parquet')
  const res = {}
  for (const [label, input] of [['csv', small.csv], ['parquet', small.pq]]) {
    const jobs = [
      ['compute -p 20', ['compute', input, '-p', '20', '-o', out], 20],
      ['compute -p 20 --keep ts', ['compute', input, '-p', '20', '--keep', 'ts', '-o', out], 20],
      ['batch --periods 5:231', ['batch', input, '--periods', '5:231', '-o', out], 231],
    ]
    for (const [job, args, period] of jobs) {
      log(`end to end: ${job} on ${ROWS} rows of ${label}`)
      timeCli(args)
      await checkParquet(out, ROWS, prices, period) // the answer first, then the clock
      res[`${job} (${label})`] = { command: `trendflex ${args.join(' ').replaceAll(dir + '/', '')}`, ...repeat(RUNS, () => timeCli(args)) }
    }
  }
  // The same batch with its Parquet sent to /dev/null: the difference is the cost of putting
  // 1.5 GB into the page cache (kernel time, on this VM far slower than a memcpy).
  log(`end to end: batch --periods 5:231 on ${ROWS} rows of csv, Parquet to /dev/null`)
  const toNull = ['batch', small.csv, '--periods', '5:231', '-o', '-', '--format', 'parquet']
  res['batch --periods 5:231 (csv, output to /dev/null)'] = { command: `trendflex ${toNull.join(' ').replaceAll(dir + '/', '')} > /dev/null`, ...repeat(RUNS, () => timeCli(toNull, { devNull: true })) }
  for (const rows of BIGS) {
    const big = writeInputs(rows, `walk-${rows}`)
    log(`end to end: batch --periods 5:231 on ${rows} rows of csv (peak RSS, flat in rows?)`)
    const args = ['batch', big.csv, '--periods', '5:231', '-o', out]
    const r = timeCli(args, { allowFailure: true })
    res[`batch --periods 5:231 (csv, ${rows} rows)`] = { command: `trendflex ${args.join(' ').replaceAll(dir + '/', '')}`, median_s: r.wall, user_s: r.user, sys_s: r.sys, peak_rss_mb: r.rssMB, runs_s: [r.wall], exit: r.status, error: r.error }
  }
  return res
}

// ---------------------------------------------------------------- 4. where the time goes
function breakdown(input) {
  log('breakdown: main-thread CPU profile of batch --periods 5:231')
  const profDir = join(dir, 'prof')
  rmSync(profDir, { recursive: true, force: true })
  const args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, BIN, 'batch', input, '--periods', '5:231', '-o', join(dir, 'out.parquet')]
  const t = Date.now()
  execFileSync(process.execPath, args, { stdio: 'ignore' })
  const wall = (Date.now() - t) / 1000
  const file = join(profDir, execFileSync('ls', [profDir], { encoding: 'utf8' }).trim().split('\n')[0])
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // Moving batches into wasm memory (WasmBatches.take: the memcpy into the reused batch, or the
  // IPC round trip) is not encoding, though part of it runs in wasm: classified by call stack.
  const copying = new Set(['take', '#viaIpc', 'fromIPCStream', 'serialize'])
  const underCopy = (id) => {
    for (let x = id; x !== undefined; x = parent.get(x)) if (copying.has(byId.get(x).callFrame.functionName)) return true
    return false
  }
  const cat = {}
  p.samples.forEach((id, i) => {
    const { url, functionName } = byId.get(id).callFrame
    const c =
      functionName === '(idle)' ? 'idle_waiting_for_workers_and_io'
      : functionName === '(garbage collector)' ? 'gc'
      : underCopy(id) ? 'copy_into_wasm'
      : url.startsWith('wasm://') || url.includes('parquet-wasm') ? 'parquet_wasm_encode'
      : url.includes('apache-arrow') || url.includes('arrow-js-ffi') ? 'arrow_js'
      : url.includes('/dist/') ? 'trendflex_js'
      : 'node_runtime'
    cat[c] = (cat[c] ?? 0) + (p.timeDeltas[i] ?? 0) / 1e6
  })
  const total = Object.values(cat).reduce((a, b) => a + b, 0)
  return { command: `node --cpu-prof bin/run.js batch <1M csv> --periods 5:231 -o out.parquet`, wall_s: wall, seconds: cat, outside_encoding_share: 1 - (cat.parquet_wasm_encode ?? 0) / total }
}

// ---------------------------------------------------------------- 5. CSV ingest, Parquet encode
async function ingest(csv) {
  log('CSV ingest: the reader alone over the 1M-row file')
  const { openInput } = await import('../dist/io/input.js')
  const runs = []
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now()
    const src = await openInput(csv, { column: 'close', keep: ['ts'] })
    let rows = 0
    for await (const c of src.chunks(1 << 16)) rows += c.prices.length
    if (rows !== ROWS) throw new Error(`read ${rows} rows, expected ${ROWS}`)
    runs.push((performance.now() - t) / 1000)
  }
  const mb = statSync(csv).size / 1e6
  return { file_mb: mb, median_s: median(runs), mb_per_s: mb / median(runs), columns: 'close + keep ts' }
}

async function encoders() {
  log('Parquet encode: every compression x encoding on 200,000 rows x 227 float64 columns')
  const rows = 200_000
  const periods = 227
  const x = walk(rows)
  const cols = {}
  for (let p = 0; p < periods; p++) cols[`trendflex_${p + 5}`] = trendflex(x, p + 5).map((v) => (Number.isNaN(v) ? 0 : v))
  const table = arrow.tableFromArrays(cols)
  const ipc = arrow.tableToIPC(table, 'stream')
  const rawMB = (rows * periods * 8) / 1e6
  const out = {}
  for (const compression of ['lz4', 'zstd', 'snappy', 'none']) {
    for (const encoding of ['bss', 'plain']) {
      for (const groupRows of [13_824, 65_536]) {
        const codec = { lz4: pw.Compression.LZ4_RAW, zstd: pw.Compression.ZSTD, snappy: pw.Compression.SNAPPY, none: pw.Compression.UNCOMPRESSED }[compression]
        // writeParquet consumes its properties (passed by value into wasm): build them per run.
        const props = () => {
          let b = new pw.WriterPropertiesBuilder().setCompression(codec).setDictionaryEnabled(false).setMaxRowGroupSize(groupRows)
          if (encoding === 'bss') for (const name of Object.keys(cols)) b = b.setColumnEncoding(name, pw.Encoding.BYTE_STREAM_SPLIT)
          return b.build()
        }
        const times = []
        let size = 0
        for (let r = 0; r < Math.max(3, RUNS - 2); r++) {
          const wasmTable = pw.Table.fromIPCStream(ipc)
          const p = props()
          const t = performance.now()
          const bytes = pw.writeParquet(wasmTable, p)
          times.push((performance.now() - t) / 1000)
          size = bytes.byteLength
        }
        out[`${compression}/${encoding}/rg${groupRows}`] = { encode_s: median(times), mb_per_s: rawMB / median(times), size_mb: size / 1e6 }
      }
    }
  }
  return { input_mb: rawMB, results: out }
}

// ---------------------------------------------------------------- 6. startup
function startup() {
  log('startup')
  const res = {}
  for (const args of [['--help'], ['kernels']]) {
    const runs = Array.from({ length: 2 * RUNS + 1 }, () => timeCli(args).wall)
    res[`trendflex ${args.join(' ')}`] = { median_s: median(runs), runs_s: runs }
  }
  const bare = Array.from({ length: 2 * RUNS + 1 }, () => {
    const t = spawnSync('/usr/bin/time', ['-f', '%e', process.execPath, '-e', ''], { encoding: 'utf8' })
    return Number(t.stderr.trim())
  })
  res['node -e "" (baseline)'] = { median_s: median(bare) }
  return res
}

// ---------------------------------------------------------------- report
results.kernels = kernelBench()
results.binding = bindingBench()
results.end_to_end = await endToEnd()
results.breakdown = breakdown(join(dir, `walk-${ROWS}.csv`))
results.csv_ingest = await ingest(join(dir, `walk-${ROWS}.csv`))
results.parquet_encode = await encoders()
results.startup = startup()
writeFileSync(join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n')

const f = (v, d = 2) => (typeof v === 'number' ? v.toFixed(d) : String(v))
const md = [
  '# trendflex benchmark results',
  '',
  `Written by \`npm run bench\` (bench/run.mjs) on ${results.date}. Machine: ${results.machine}.`,
  `Medians of ${RUNS} runs unless said; every output was checked (row count, a result column bit for bit against the API) before timing.`,
  '',
  '## Kernels (1,000,000-point random walk)',
  '',
  `Command: \`${results.kernels.command}\`. Write floor (streaming-store fill of the 227 x 1M buffer): ${f(results.kernels.write_floor_ms, 1)} ms.`,
  '',
  '| kernel | single L=20, ns/point | batch 5..=231, 1 thread, ms | batch, 2 threads, ms | 2 threads / write floor |',
  '|---|---|---|---|---|',
  ...Object.keys(results.kernels.single_p20).map((k) => `| ${k} | ${f(results.kernels.single_p20[k])} | ${f(results.kernels.batch_5_231[`${k}/1t`], 1)} | ${f(results.kernels.batch_5_231[`${k}/2t`], 1)} | ${f(results.kernels.batch_5_231[`${k}/2t`] / results.kernels.write_floor_ms)}x |`),
  '',
  '## Binding overhead (Node against Rust, same input, same buffers)',
  '',
  `Command: \`${results.binding.command}\`.`,
  '',
  '| job | Node ms | Rust in process ms | overhead (median of paired ratios) | Rust binary ms | Node vs binary |',
  '|---|---|---|---|---|---|',
  ...['single', 'batch'].map((m) => { const b = results.binding[m]; return `| ${m} | ${f(b.node_ms)} | ${f(b.rust_in_process_ms)} | ${f(100 * b.overhead_vs_in_process, 1)}% | ${f(b.rust_binary_ms)} | ${f(100 * b.overhead_vs_binary, 1)}% |` }),
  '',
  'The in-process pair is the measure of the binding: the same buffers, timed back to back in alternating order. The separate Rust binary runs in another process, whose speed on this VM differs by up to 40% from run to run.',
  '',
  '## End to end (to Parquet, lz4)',
  '',
  '| job | command | wall s (median) | CPU user s | CPU system s | peak RSS MB |',
  '|---|---|---|---|---|---|',
  ...Object.entries(results.end_to_end).map(([k, v]) => `| ${k} | \`${v.command}\` | ${f(v.median_s)}${v.runs_s.length === 1 ? ' (1 run)' : ''}${v.exit ? ` exit ${v.exit}: ${v.error}` : ''} | ${f(v.user_s)} | ${f(v.sys_s)} | ${f(v.peak_rss_mb, 0)} |`),
  '',
  '## Where the time of `batch --periods 5:231` goes (main thread, CPU profile)',
  '',
  `Command: \`${results.breakdown.command}\`, wall ${f(results.breakdown.wall_s)} s. The kernel itself runs on worker threads; \`idle\` is the main thread waiting for them and for I/O.`,
  '',
  '| stage | seconds |',
  '|---|---|',
  ...Object.entries(results.breakdown.seconds).sort((a, b) => b[1] - a[1]).map(([k, v]) => `| ${k} | ${f(v)} |`),
  '',
  `Share of the main thread outside Parquet encoding: ${f(100 * results.breakdown.outside_encoding_share, 1)}%.`,
  '',
  '## CSV ingest',
  '',
  `${f(results.csv_ingest.file_mb, 1)} MB (${ROWS} rows, ${results.csv_ingest.columns}): ${f(results.csv_ingest.median_s, 3)} s, ${f(results.csv_ingest.mb_per_s, 0)} MB/s.`,
  '',
  `## Parquet encode (parquet-wasm, ${f(results.parquet_encode.input_mb, 0)} MB of float64: 200,000 rows x 227 columns)`,
  '',
  '| compression / encoding / row group rows | encode s | MB/s | file MB |',
  '|---|---|---|---|',
  ...Object.entries(results.parquet_encode.results).map(([k, v]) => `| ${k} | ${f(v.encode_s)} | ${f(v.mb_per_s, 0)} | ${f(v.size_mb, 1)} |`),
  '',
  '## Startup',
  '',
  '| command | median s |',
  '|---|---|',
  ...Object.entries(results.startup).map(([k, v]) => `| \`${k}\` | ${f(v.median_s, 3)} |`),
  '',
]
writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), md.join('\n'))
log('wrote bench/RESULTS.md and bench/results.json')
