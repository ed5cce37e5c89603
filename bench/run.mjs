#!/usr/bin/env node
// `npm run bench`: the benchmark suite. Generates its own inputs (seeded random walks with a
// timestamp column), checks every output against vector-ta before timing anything, runs the peers
// a quant would use instead (vector-ta from PyPI + polars or pyarrow, in bench/.venv) alternated
// with ours so that ratios hold while this VM's speed drifts, and writes bench/RESULTS.md and
// bench/results.json.
//
//   npm run bench                 # everything (about 10 minutes on 2 cores)
//   npm run bench -- --quick      # fewer runs, smaller inputs, to try the harness
//   npm run bench -- --only output,startup
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { kernels } from 'trendflex'

import { ROOT, machine, median } from './lib.mjs'

const { values: opt } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string' }, only: { type: 'string' } } })
const RUNS = Number(opt.runs ?? (opt.quick ? 3 : 5))
const ROWS = opt.quick ? 200_000 : 1_000_000
const CSV_ROWS = opt.quick ? 60_000 : 300_000
const BIG = opt.quick ? 1_000_000 : 5_000_000
const ONLY = opt.only ? new Set(opt.only.split(',')) : undefined
const BIN = join(ROOT, 'bin', 'run.js')
const PY = join(ROOT, 'bench', '.venv', 'bin', 'python')
const PEERS = join(ROOT, 'bench', 'peers.py')
const dir = join(tmpdir(), 'trendflex-bench')
mkdirSync(dir, { recursive: true })
const log = (...a) => console.error('bench:', ...a)
const short = (s) => s.replaceAll(dir + '/', '').replaceAll(ROOT + '/', '')

execFileSync('bash', [join(ROOT, 'scripts', 'bench-env.sh')], { stdio: 'inherit' })

// ---------------------------------------------------------------- inputs and processes
function input(rows) {
  const csv = join(dir, `walk-${rows}.csv`)
  const pq = join(dir, `walk-${rows}.parquet`)
  if (!existsSync(csv) || !existsSync(pq)) {
    log(`generating ${rows} rows as ${short(csv)} and ${short(pq)}`)
    execFileSync(PY, [PEERS, 'make-input', String(rows), csv, pq])
  }
  return { csv, pq, mb: statSync(csv).size / 1e6 }
}

/** A table of `symbols` random walks of `rows` rows each (symbol, timestamp, close), `stacked` or
 * `interleaved`, made once. */
function groupsTable(symbols, rows, layout) {
  const path = join(dir, `groups-${symbols}x${rows}-${layout}.csv`)
  if (!existsSync(path)) execFileSync(PY, [PEERS, 'make-groups', String(symbols), String(rows), path, layout])
  return path
}

const ours = (...args) => ({ label: `trendflex ${args.join(' ')}`, argv: [process.execPath, BIN, ...args] })
const peer = (route, ...args) => ({ label: `python bench/peers.py ${route} ${args.join(' ')}`, argv: [PY, PEERS, route, ...args] })
/** Builds a Rust example of the workspace (release) and returns its path. */
function example(name) {
  execFileSync('cargo', ['build', '--release', '--example', name, '--manifest-path', join(ROOT, 'native', 'Cargo.toml')], { stdio: 'ignore' })
  return join(ROOT, 'native', 'target', 'release', 'examples', name)
}
const shell = (label, script) => ({ label, argv: ['bash', '-c', `set -o pipefail; ${script}`] })

/** Waits (at most 30 s) until no "trendflex-free" process is running (a zombie left to init does
 * not count): the child that frees a replaced output's blocks after trendflex has returned
 * (native/io/src/replace.rs). Run before every timed command, so that no route is timed while the
 * disk still frees another run's file. */
function settle() {
  for (let i = 0; i < 600; i++) {
    if (spawnSync('pgrep', ['-r', 'R,S,D', '-x', 'trendflex-free'], { stdio: 'ignore' }).status !== 0) return
    spawnSync('sleep', ['0.05'])
  }
}

/** Runs a command under GNU time: wall and CPU seconds, peak RSS of its largest process (MB). */
function timed(cmd) {
  settle()
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...cmd.argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 })
  const lines = r.stderr.trim().split('\n')
  if (r.status !== 0) throw new Error(`${short(cmd.label)} failed (${r.status}): ${lines.slice(-3).join(' | ')}`)
  const [wall, user, sys, kb] = lines.at(-1).split(' ').map(Number)
  return { wall, user, sys, cpu: user + sys, rss: kb / 1024 }
}

/** Each command in turn (A B C A B C ...), `runs` times after one warm-up round. Medians per
 * command, and the median over rounds of each command's wall time over the first's. */
function alternate(cmds, runs = RUNS) {
  cmds.forEach(timed)
  const rounds = Array.from({ length: runs }, () => cmds.map(timed))
  const stats = cmds.map((cmd, i) => {
    const col = rounds.map((r) => r[i])
    const med = (k) => median(col.map((x) => x[k]))
    return { command: short(cmd.label), wall_s: med('wall'), user_s: med('user'), sys_s: med('sys'), peak_rss_mb: Math.max(...col.map((x) => x.rss)), runs_s: col.map((x) => x.wall) }
  })
  stats.forEach((s, i) => (s.wall_vs_first = median(rounds.map((r) => r[i].wall / r[0].wall))))
  return stats
}

function check(kind, out, src, periods) {
  execFileSync(PY, [PEERS, `check-${kind}`, out, src, ...periods.map(String)], { stdio: ['ignore', 'ignore', 'inherit'] })
}

const results = { machine: machine(), date: new Date().toISOString(), runs: RUNS }
const section = (name, f) => {
  if (ONLY && !ONLY.has(name)) return
  log(`-- ${name}`)
  results[name] = f()
  results.sections = { ...results.sections, [name]: new Date().toISOString() }
  save() // a section that fails later does not cost the ones done
}

// ---------------------------------------------------------------- 1. kernels
section('kernels', () => {
  const timing = example('timing')
  const run = (...a) => JSON.parse(execFileSync(timing, a.map(String), { encoding: 'utf8' }))
  const out = { command: 'native/target/release/examples/timing <mode> <kernel> <threads> <reps>', single_p20: {}, batch_5_231: {} }
  for (const k of kernels().available) {
    out.single_p20[k] = run('single', k, 1, 3 * RUNS).ns_per_value
    for (const t of [1, 2]) out.batch_5_231[`${k}/${t}t`] = run('batch', k, t, RUNS).median_ms
  }
  out.write_floor_ms = run('floor', 'scalar', 1, RUNS).median_ms
  return out
})

// ---------------------------------------------------------------- 2. binding overhead
section('binding', () => JSON.parse(execFileSync(process.execPath, [join(ROOT, 'bench', 'binding.mjs'), '--reps', String(3 * RUNS), '--rounds', '2'], { encoding: 'utf8' })))

// ---------------------------------------------------------------- 3. output engine
section('output', () => {
  const { csv } = input(ROWS)
  const out = {}
  const pq = join(dir, 'ours.parquet')
  const batch = ['batch', csv, '--periods', '5:231', '--keep', 'timestamp']
  log(`checking outputs against vector-ta (${ROWS} rows)`)
  for (const [format, file] of [['parquet', pq], ['csv', join(dir, 'ours.csv')], ['arrow', join(dir, 'ours.arrow')]]) {
    timed(ours(...batch, '-o', file))
    check(format, file, csv, [5, 20, 231])
  }
  rmSync(join(dir, 'ours.csv'))
  rmSync(join(dir, 'ours.arrow'))
  log('batch to Parquet: ours, vector-ta + polars, vector-ta + pyarrow, alternated')
  out.batch_parquet = alternate([ours(...batch, '-o', pq), peer('batch-polars-parquet', csv, join(dir, 'polars.parquet')), peer('batch-pyarrow-parquet', csv, join(dir, 'pyarrow.parquet'))])
  check('parquet', join(dir, 'polars.parquet'), csv, [20])
  rmSync(join(dir, 'polars.parquet'))
  rmSync(join(dir, 'pyarrow.parquet'))

  log('Arrow IPC through a pipe into pyarrow, against the same job to a Parquet file')
  const reader = `"${PY}" -c "import sys, pyarrow.ipc as ipc; n = sum(b.num_rows for b in ipc.open_stream(sys.stdin.buffer)); assert n == ${ROWS}, n"`
  out.arrow_pipe = alternate([shell(`trendflex ${short(batch.join(' '))} -f arrow | python -c <read every batch>`, `"${process.execPath}" "${BIN}" ${batch.map((a) => `"${a}"`).join(' ')} -f arrow | ${reader}`), ours(...batch, '-o', pq)])

  const small = input(CSV_ROWS)
  log(`batch to CSV, ${CSV_ROWS} rows: ours against vector-ta + polars write_csv`)
  const ourCsv = join(dir, 'ours.csv')
  timed(ours('batch', small.csv, '--periods', '5:231', '--keep', 'timestamp', '-o', ourCsv))
  check('csv', ourCsv, small.csv, [5, 231])
  out.batch_csv = alternate([ours('batch', small.csv, '--periods', '5:231', '--keep', 'timestamp', '-o', ourCsv), peer('batch-polars-csv', small.csv, join(dir, 'polars.csv'))])
  rmSync(ourCsv)
  rmSync(join(dir, 'polars.csv'))

  log('Parquet compression codecs, alternated')
  const codecs = ['lz4', 'zstd', 'snappy', 'none']
  const byCodec = alternate(codecs.map((c) => ours(...batch, '--compression', c, '-o', join(dir, `codec-${c}.parquet`))), Math.max(2, RUNS - 2))
  out.compression = Object.fromEntries(codecs.map((c, i) => {
    const file = join(dir, `codec-${c}.parquet`)
    const size = statSync(file).size / 1e6
    rmSync(file)
    return [c, { ...byCodec[i], size_mb: size }]
  }))

  const big = input(BIG)
  log(`batch to Parquet, ${BIG} rows: past 4 GiB, read back by pyarrow, memory flat in rows`)
  const bigOut = join(dir, 'big.parquet')
  const r = timed(ours('batch', big.csv, '--periods', '5:231', '--keep', 'timestamp', '-o', bigOut))
  out.big = { command: short(`trendflex batch ${big.csv} --periods 5:231 --keep timestamp -o ${bigOut}`), rows: BIG, wall_s: r.wall, user_s: r.user, sys_s: r.sys, peak_rss_mb: r.rss, size_gb: statSync(bigOut).size / 1e9 }
  check('parquet', bigOut, big.csv, [5, 100, 231])
  out.big.read_back = 'pyarrow: footer rows equal the input, trendflex_5, _100 and _231 equal vector-ta bit for bit'
  out.big.rss_vs_1m = r.rss / out.batch_parquet[0].peak_rss_mb
  rmSync(bigOut)
  return out
})

// ---------------------------------------------------------------- 4. input side
section('input', () => {
  const { csv } = input(ROWS)
  const out = {}
  log('CSV ingest: the native reader alone (price + a timestamp keep column)')
  const native = execFileSync(example('ingest'), [csv, 'close', 'timestamp'], { encoding: 'utf8' })
  const nativeRates = [...native.matchAll(/([\d.]+) MB\/s/g)].map((m) => Number(m[1]))
  out.csv_ingest = { file_mb: statSync(csv).size / 1e6, native_mb_per_s: median(nativeRates), command: 'native/target/release/examples/ingest <csv> close timestamp' }

  log('compute -p 20 --keep timestamp to Parquet: ours against vector-ta + pyarrow')
  const oc = join(dir, 'compute.parquet')
  timed(ours('compute', csv, '-p', '20', '--keep', 'timestamp', '-o', oc))
  check('parquet', oc, csv, [20])
  out.compute_parquet = alternate([ours('compute', csv, '-p', '20', '--keep', 'timestamp', '-o', oc), peer('compute-pyarrow-parquet', csv, join(dir, 'pyarrow-compute.parquet'))])

  const wide = join(dir, 'wide-5gb.parquet')
  if (!existsSync(wide)) {
    log('generating a Parquet input past 4 GiB (120 noise columns, the price last)')
    execFileSync(PY, [PEERS, 'make-wide', opt.quick ? '0.5' : '4.8', wide], { stdio: 'ignore' })
  }
  log('compute on the Parquet input past 4 GiB')
  const r = timed(ours('compute', wide, '-p', '20', '-o', oc))
  check('parquet', oc, wide, [20])
  out.big_parquet_input = { command: short(`trendflex compute ${wide} -p 20 -o ${oc}`), input_gb: statSync(wide).size / 1e9, wall_s: r.wall, peak_rss_mb: r.rss, row_group_mb: (121 * 8 * 131072) / 1e6, checked: 'trendflex_20 equals vector-ta over every row' }
  return out
})

// ---------------------------------------------------------------- 4b. the CSV reader
section('reader', () => {
  const rows = opt.quick ? 1_000_000 : 5_000_000
  const csv = join(dir, `ohlc-${rows}.csv`)
  const gz = `${csv}.gz`
  if (!existsSync(csv)) {
    log(`generating ${rows} bars (timestamp, open, close, volume) as ${short(csv)}`)
    execFileSync(PY, [PEERS, 'make-ohlc', String(rows), csv])
  }
  if (!existsSync(gz)) execFileSync('bash', ['-c', 'gzip -6 -c "$1" > "$2"', 'gzip', csv, gz])
  const out = { rows, file_mb: statSync(csv).size / 1e6, gz_mb: statSync(gz).size / 1e6 }
  const arrow = join(dir, 'reader.arrow')
  const compute = (src, o) => ours('compute', src, '-p', '20', '--keep', 'timestamp', '-f', 'arrow', '-o', o)
  for (const src of [csv, gz]) {
    timed(compute(src, arrow))
    check('arrow', arrow, csv, [20])
  }
  rmSync(arrow)
  log('compute -p 20 --keep timestamp -f arrow: ours against polars read_csv + vector-ta trendflex, alternated')
  out.compute = alternate([compute(csv, '/dev/null'), peer('compute-polars-arrow', csv, '/dev/null')])
  out.compute_ratio = median(out.compute[0].runs_s.map((t, i) => t / out.compute[1].runs_s[i]))
  log('the same job from the .csv.gz against the plain file, alternated')
  out.gzip = alternate([compute(csv, '/dev/null'), compute(gz, '/dev/null')])
  out.gzip_ratio = out.gzip[1].wall_vs_first
  log('the reader alone (price + int64 timestamp), timed in process: ours (no Node) against polars read_csv, alternated')
  const ingest = example('ingest')
  const seconds = (text, want) => {
    const runs = [...text.matchAll(/^(\d+) rows, ([\d.]+) s/gm)]
    if (!runs.length || runs.some((m) => Number(m[1]) !== want)) throw new Error(`a reader did not give ${want} rows: ${text}`)
    return runs.map((m) => Number(m[2]))
  }
  const cold = { ours: [], polars: [] }
  const warm = { ours: [], polars: [] }
  for (let r = 0; r < RUNS; r++) {
    const a = seconds(execFileSync(ingest, [csv, 'close', 'timestamp', '5'], { encoding: 'utf8' }), rows)
    const b = seconds(execFileSync(PY, [PEERS, 'read-polars', csv, '5'], { encoding: 'utf8' }), rows)
    cold.ours.push(a[0])
    cold.polars.push(b[0])
    warm.ours.push(Math.min(...a))
    warm.polars.push(Math.min(...b))
  }
  const speed = (x) => median(x.polars.map((t, i) => t / x.ours[i]))
  out.reader = {
    command: `native/target/release/examples/ingest ${short(csv)} close timestamp 5; python bench/peers.py read-polars ${short(csv)} 5`,
    cold_s: { ours: median(cold.ours), polars: median(cold.polars) },
    warm_s: { ours: median(warm.ours), polars: median(warm.polars) },
    cold_speedup: speed(cold),
    warm_speedup: speed(warm),
  }
  return out
})

// ---------------------------------------------------------------- 5. long tables
section('groups', () => {
  const [symbols, rows] = opt.quick ? [200, 2000] : [1000, 2000]
  const table = (layout, n = rows) => groupsTable(symbols, n, layout)
  const stacked = table('stacked')
  const interleaved = table('interleaved')
  const out = { symbols, rows_per_symbol: rows }
  const pq = (name) => join(dir, `groups-${name}.parquet`)
  for (const [name, src] of [['stacked', stacked], ['interleaved', interleaved]]) {
    timed(ours('compute', src, '-p', '20', '--group-by', 'symbol', '--keep', 'timestamp', '-o', pq(name)))
    execFileSync(PY, [PEERS, 'check-groups', pq(name), src], { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  log('compute -p 20: grouped stacked, the same rows ungrouped, grouped interleaved, pandas groupby + vector-ta; alternated')
  const cmds = [
    ours('compute', stacked, '-p', '20', '--group-by', 'symbol', '--keep', 'timestamp', '-o', pq('stacked')),
    ours('compute', stacked, '-p', '20', '--keep', 'symbol,timestamp', '-o', pq('ungrouped')),
    ours('compute', interleaved, '-p', '20', '--group-by', 'symbol', '--keep', 'timestamp', '-o', pq('interleaved')),
    peer('compute-pandas-groups', stacked, pq('pandas')),
  ]
  out.compute = alternate(cmds)
  const ratio = (a, b) => median(out.compute[a].runs_s.map((t, i) => t / out.compute[b].runs_s[i]))
  out.ratios = { grouped_vs_ungrouped: ratio(0, 1), grouped_vs_pandas: ratio(0, 3), interleaved_vs_stacked: ratio(2, 0) }
  log('peak memory against rows: the same symbols with twice the rows each')
  const twice = table('stacked', 2 * rows)
  const r1 = timed(cmds[0])
  const r2 = timed(ours('compute', twice, '-p', '20', '--group-by', 'symbol', '--keep', 'timestamp', '-o', pq('twice')))
  const i2 = table('interleaved', 2 * rows)
  const r3 = timed(cmds[2])
  const r4 = timed(ours('compute', i2, '-p', '20', '--group-by', 'symbol', '--keep', 'timestamp', '-o', pq('twice-i')))
  out.memory = { stacked_mb: [r1.rss, r2.rss], interleaved_mb: [r3.rss, r4.rss], rows: [symbols * rows, symbols * rows * 2] }
  log('--partition-by symbol against the same job to one file')
  const ds = join(dir, 'groups-dataset')
  const dsCmd = shell(`rm -rf ${short(ds)} && trendflex compute ${short(stacked)} -p 20 --group-by symbol --keep timestamp --partition-by symbol -o ${short(ds)}`, `rm -rf "${ds}" && "${process.execPath}" "${BIN}" compute "${stacked}" -p 20 --group-by symbol --keep timestamp --partition-by symbol -o "${ds}"`)
  out.partitioned = alternate([cmds[0], dsCmd], Math.max(2, RUNS - 2))
  return out
})

// ---------------------------------------------------------------- 5b. period grids over many groups
section('grids', () => {
  const shapes = opt.quick ? [[200, 1000], [2000, 100]] : [[2000, 1000], [20000, 100]]
  const periods = ['5', '20', '99', '100', '230', '231']
  const out = {}
  for (const [symbols, rows] of shapes) {
    const table = (layout) => groupsTable(symbols, rows, layout)
    const pq = (name) => join(dir, `grid-${symbols}x${rows}-${name}.parquet`)
    const grid = (layout, name, ...how) => ours('batch', table(layout), '--periods', '5:231', ...how, '-o', pq(name))
    const cmds = [
      grid('stacked', 'stacked', '--group-by', 'symbol', '--keep', 'timestamp'),
      grid('stacked', 'ungrouped', '--keep', 'symbol,timestamp'),
      grid('interleaved', 'interleaved', '--group-by', 'symbol', '--keep', 'timestamp'),
    ]
    for (const [i, layout] of [[0, 'stacked'], [2, 'interleaved']]) {
      timed(cmds[i])
      execFileSync(PY, [PEERS, 'check-groups', pq(layout), table(layout), ...periods], { stdio: ['ignore', 'ignore', 'inherit'] })
    }
    log(`batch --periods 5:231, ${symbols} symbols x ${rows} rows: grouped stacked, the same rows ungrouped, grouped interleaved; alternated`)
    const stats = alternate(cmds)
    const ratio = (a, b) => median(stats[a].runs_s.map((t, k) => t / stats[b].runs_s[k]))
    out[`${symbols}x${rows}`] = {
      symbols,
      rows_per_symbol: rows,
      batch: stats,
      ratios: { stacked_vs_ungrouped: ratio(0, 1), interleaved_vs_stacked: ratio(2, 0), rss_stacked_vs_ungrouped: stats[0].peak_rss_mb / stats[1].peak_rss_mb },
    }
  }
  return out
})

// ---------------------------------------------------------------- 6. where the time goes
section('profile', () => {
  const perfOk = spawnSync('perf', ['stat', '-e', 'task-clock', 'true'], { stdio: 'ignore' }).status === 0
  if (!perfOk) return { note: 'perf is not available here' }
  const { csv } = input(ROWS)
  const data = join(dir, 'perf.data')
  const args = ['batch', csv, '--periods', '5:231', '--keep', 'timestamp', '-o', join(dir, 'ours.parquet')]
  execFileSync('perf', ['record', '-F', '999', '-o', data, '--', process.execPath, BIN, ...args], { stdio: 'ignore' })
  const report = execFileSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,symbol', '--stdio'], { encoding: 'utf8', maxBuffer: 1 << 26 })
  const groups = [
    ['lz4 compression', /lz4_flex/],
    ['BYTE_STREAM_SPLIT encoding', /byte_stream_split/],
    ['min/max statistics', /min_max/],
    ['other Parquet encoding', /parquet::/],
    ['TrendFlex kernel', /trendflex_core/],
    ['CSV parsing', /csv_core|trendflex_node::csv|dec2flt|from_str|parse_integer/],
    ['memcpy/memset', /__mem(move|set|cpy)/],
    ['kernel: page cache, disk, faults', /\[kernel/],
    ['node, V8, JS', /node |\[JIT\]|perf-\d+\.map|libnode/],
  ]
  const share = Object.fromEntries([...groups.map(([g]) => [g, 0]), ['other', 0]])
  for (const line of report.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(.*)$/.exec(line)
    if (!m) continue
    const group = groups.find(([, re]) => re.test(m[2]))?.[0] ?? 'other'
    share[group] += Number(m[1])
  }
  rmSync(data)
  return { command: `perf record -F 999 -- trendflex ${short(args.join(' '))}`, percent_of_cpu_samples: share }
})

// ---------------------------------------------------------------- 6. startup
section('startup', () => {
  const res = {}
  for (const cmd of [ours('--help'), ours('kernels'), { label: 'node -e ""', argv: [process.execPath, '-e', ''] }]) {
    const runs = Array.from({ length: 2 * RUNS + 1 }, () => timed(cmd).wall)
    res[cmd.label] = { median_s: median(runs), runs_s: runs }
  }
  return res
})

// ---------------------------------------------------------------- report
log('wrote bench/RESULTS.md and bench/results.json')

/** Merges this run's sections into bench/results.json (sections not run keep their figures and
 * the date they were measured) and rewrites bench/RESULTS.md. */
function save() {
  const file = join(ROOT, 'bench', 'results.json')
  const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
  const all = { ...previous, ...results, sections: { ...previous.sections, ...results.sections } }
  writeFileSync(file, JSON.stringify(all, null, 2) + '\n')
  writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), report(all))
}

function report(r) {
  const f = (v, d = 2) => (typeof v === 'number' ? v.toFixed(d) : String(v))
  const rows = (stats) => stats.map((s) => `| \`${s.command}\` | ${f(s.wall_s)} | ${f(s.wall_vs_first)} | ${f(s.user_s)} | ${f(s.sys_s)} | ${f(s.peak_rss_mb, 0)} |`)
  const table = ['| command | wall s | wall / first (median of rounds) | user s | sys s | peak RSS MB |', '|---|---|---|---|---|---|']
  const when = Object.entries(r.sections ?? {}).map(([k, d]) => `${k} ${d.slice(0, 16).replace('T', ' ')}`).join(', ')
  const md = ['# trendflex benchmark results', '', `Written by \`npm run bench\` (bench/run.mjs). Machine: ${r.machine}. Sections measured (UTC): ${when || r.date}.`, `Medians of ${r.runs} alternated rounds unless said. Every output was checked against vector-ta (bit for bit, a few periods, read back by pyarrow or polars) before anything was timed.`, '']
  if (r.output) {
    const o = r.output
    md.push('## Output engine (issue 9)', '', `Batch, 227 periods with a timestamp column kept, ${ROWS.toLocaleString('en')}-row CSV to Parquet (lz4). Peers: \`bench/peers.py\` (vector-ta \`trendflex_batch\`, then polars \`write_parquet(compression="lz4")\` or pyarrow \`write_table(compression="lz4")\`).`, '', ...table, ...rows(o.batch_parquet), '')
    md.push('Arrow IPC stream through a pipe into pyarrow, against the same job to a Parquet file:', '', ...table, ...rows(o.arrow_pipe), '')
    md.push(`CSV output, ${CSV_ROWS.toLocaleString('en')} rows x 227 periods (polars \`write_csv\` as the peer):`, '', ...table, ...rows(o.batch_csv), '')
    md.push('Parquet compression (same batch, alternated):', '', '| codec | wall s | wall / lz4 | peak RSS MB | file MB |', '|---|---|---|---|---|', ...Object.entries(o.compression).map(([c, s]) => `| ${c} | ${f(s.wall_s)} | ${f(s.wall_vs_first)} | ${f(s.peak_rss_mb, 0)} | ${f(s.size_mb, 0)} |`), '')
    md.push(`Big: \`${o.big.command}\`: ${f(o.big.size_gb)} GB written in ${f(o.big.wall_s)} s, peak RSS ${f(o.big.peak_rss_mb, 0)} MB (${f(o.big.rss_vs_1m)}x the ${ROWS.toLocaleString('en')}-row run); ${o.big.read_back}.`, '')
  }
  if (r.input) {
    const i = r.input
    md.push('## Input side (issue 10)', '', `CSV ingest (${f(i.csv_ingest.file_mb, 1)} MB: a price and a timestamp column, no counting pass): ${f(i.csv_ingest.native_mb_per_s, 0)} MB/s in the addon alone (\`${i.csv_ingest.command}\`); the CLI's job reads in the addon too, no chunk crosses into Node.`, '')
    md.push(`\`compute -p 20 --keep timestamp\`, ${ROWS.toLocaleString('en')}-row CSV to Parquet, against vector-ta + pyarrow doing the same:`, '', ...table, ...rows(i.compute_parquet), '')
    md.push(`A Parquet input past 4 GiB: \`${i.big_parquet_input.command}\` read ${f(i.big_parquet_input.input_gb)} GB in ${f(i.big_parquet_input.wall_s)} s with a peak RSS of ${f(i.big_parquet_input.peak_rss_mb, 0)} MB (one of its row groups is ${f(i.big_parquet_input.row_group_mb, 0)} MB); ${i.big_parquet_input.checked}.`, '')
  }
  if (r.reader) {
    const x = r.reader
    md.push('## The CSV reader (issue 18)', '', `${x.rows.toLocaleString('en')} bars (timestamp, open, close, volume), ${f(x.file_mb, 0)} MB of CSV (${f(x.gz_mb, 0)} MB as .csv.gz). Outputs checked against vector-ta first.`, '')
    md.push(`\`compute -p 20 --keep timestamp -f arrow -o /dev/null\` against polars \`read_csv(columns=[timestamp, close])\` + vector-ta \`trendflex\` writing the same Arrow stream: ours / peer ${f(x.compute_ratio)} (median of per-round ratios).`, '', ...table, ...rows(x.compute), '')
    md.push(`The same job from the .csv.gz: ${f(x.gzip_ratio)}x the plain file's time.`, '', ...table, ...rows(x.gzip), '')
    md.push(`The reader alone, timed inside each process (\`${x.reader.command}\`), alternated: first read of a process ours ${f(x.reader.cold_s.ours, 3)} s, polars ${f(x.reader.cold_s.polars, 3)} s (polars / ours ${f(x.reader.cold_speedup)}); best of 5 reads in one process ours ${f(x.reader.warm_s.ours, 3)} s, polars ${f(x.reader.warm_s.polars, 3)} s (${f(x.reader.warm_speedup)}).`, '')
  }
  if (r.groups) {
    const g = r.groups
    md.push('## Long tables (issue 11)', '', `${g.symbols.toLocaleString('en')} symbols x ${g.rows_per_symbol.toLocaleString('en')} rows, CSV (symbol, timestamp, close), \`compute -p 20\` to Parquet; the pandas peer is \`groupby("symbol").close.transform(vector_ta.trendflex)\` writing the same Parquet. Outputs checked against vector-ta per symbol first.`, '', ...table, ...rows(g.compute), '')
    md.push(`Median of per-round ratios: grouped / ungrouped ${f(g.ratios.grouped_vs_ungrouped)} (target <= 1.3), grouped / pandas ${f(g.ratios.grouped_vs_pandas)} (target <= 0.7), interleaved / stacked ${f(g.ratios.interleaved_vs_stacked)} (target <= 1.5).`, '')
    md.push(`Peak RSS at ${g.memory.rows.map((n) => n.toLocaleString('en')).join(' and ')} rows: stacked ${g.memory.stacked_mb.map((m) => f(m, 0)).join(' and ')} MB, interleaved ${g.memory.interleaved_mb.map((m) => f(m, 0)).join(' and ')} MB.`, '')
    md.push('`--partition-by symbol` (a dataset of one folder per symbol) against the same job to one file:', '', ...table, ...rows(g.partitioned), '')
  }
  if (r.grids) {
    md.push('## Period grids over many groups (issue 20)', '', '`batch --periods 5:231` to Parquet, grouped (`--group-by symbol --keep timestamp`) on a stacked and an interleaved table, against the same rows ungrouped (`--keep symbol,timestamp`). Outputs checked against vector-ta run on every symbol alone first (periods 5, 20, 99, 100, 230, 231).', '')
    for (const g of Object.values(r.grids)) {
      md.push(`${g.symbols.toLocaleString('en')} symbols x ${g.rows_per_symbol.toLocaleString('en')} rows:`, '', ...table, ...rows(g.batch), '')
      md.push(`Median of per-round ratios: grouped stacked / ungrouped ${f(g.ratios.stacked_vs_ungrouped)} (target <= 1.3), interleaved / stacked ${f(g.ratios.interleaved_vs_stacked)} (target <= 1.5); peak RSS stacked / ungrouped ${f(g.ratios.rss_stacked_vs_ungrouped)} (target <= 1.2).`, '')
    }
  }
  if (r.profile?.percent_of_cpu_samples) {
    md.push('## Where the CPU time of the batch goes', '', `\`${r.profile.command}\` (all threads, user and kernel):`, '', '| part | % of samples |', '|---|---|', ...Object.entries(r.profile.percent_of_cpu_samples).sort((a, b) => b[1] - a[1]).map(([k, v]) => `| ${k} | ${f(v, 1)} |`), '')
  }
  if (r.kernels) {
    md.push('## Kernels (1,000,000-point random walk)', '', `Command: \`${r.kernels.command}\`. Write floor (streaming-store fill of the 227 x 1M buffer): ${f(r.kernels.write_floor_ms, 1)} ms.`, '', '| kernel | single L=20, ns/point | batch 5..=231, 1 thread, ms | batch, 2 threads, ms |', '|---|---|---|---|', ...Object.keys(r.kernels.single_p20).map((k) => `| ${k} | ${f(r.kernels.single_p20[k])} | ${f(r.kernels.batch_5_231[`${k}/1t`], 1)} | ${f(r.kernels.batch_5_231[`${k}/2t`], 1)} |`), '')
  }
  if (r.binding) {
    md.push('## Binding overhead (Node against Rust, same input, same buffers)', '', `Command: \`${r.binding.command}\`.`, '', '| job | Node ms | Rust in process ms | overhead (median of paired ratios) |', '|---|---|---|---|', ...['single', 'batch'].map((m) => `| ${m} | ${f(r.binding[m].node_ms)} | ${f(r.binding[m].rust_in_process_ms)} | ${f(100 * r.binding[m].overhead_vs_in_process, 1)}% |`), '')
  }
  if (r.startup) md.push('## Startup', '', '| command | median s |', '|---|---|', ...Object.entries(r.startup).map(([k, v]) => `| \`${k}\` | ${f(v.median_s, 3)} |`), '')
  return md.join('\n')
}
