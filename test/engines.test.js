// Spark and Ray Data run trendflex for real, through python/trendflex_arrow: a shuffled long table
// of 250 symbols and 1,014,278 rows goes through spark_map (local[2]) and ray_map (local) in 4
// partitions, for `compute` and `batch`, and each result equals one direct run of the CLI bit for
// bit; a missing close mid-symbol fails the engine's job with trendflex's own message; and Spark
// reads what `trendflex batch` and `--partition-by` write.
//
// The engines live in their own venv, .venv-engines/ (pyspark, ray[data], pyarrow and the package
// itself), set up here: ~90 s the first time, nothing when done. Each engine is started once, in
// one Python process (python/tests/engines.py) that runs all its checks and reports each as a JSON
// line; the tests below assert on those. The executable is this checkout's bin/run.js, or
// TRENDFLEX_TEST_BIN (e.g. a built checkout's, from an unbuilt one).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = process.env.TRENDFLEX_TEST_BIN || join(ROOT, 'bin', 'run.js')
const VENV = join(ROOT, '.venv-engines')
const PYTHON = join(VENV, 'bin', 'python')
const SCRIPT = join(ROOT, 'python', 'tests', 'engines.py')
// pyspark 4.1, not 4.3: 4.3 reads BYTE_STREAM_SPLIT floats, 4.1 and 4.2 do not (checked), and the
// Parquet checks below are about the readers that do not.
const PACKAGES = ['pyspark==4.1.4', 'ray[data]==2.60.0', 'pyarrow==26.0.1', 'numpy==2.4.6']

const BAD_SYMBOL = 'S013'
const seconds = (start) => ((performance.now() - start) / 1000).toFixed(1)

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...options })
  if (r.error) throw r.error
  return r
}

function mustRun(cmd, args, options) {
  const r = sh(cmd, args, options)
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`)
  return r
}

/** .venv-engines with PACKAGES and ./python installed; quick when already done (a stamp file
 * holds what was installed: the pins and a hash of the package's files). */
function engineVenv() {
  const files = ['pyproject.toml', ...readdirSync(join(ROOT, 'python', 'trendflex_arrow')).filter((f) => f.endsWith('.py')).sort().map((f) => `trendflex_arrow/${f}`)]
  const hash = createHash('sha256')
  for (const f of files) hash.update(f).update(readFileSync(join(ROOT, 'python', f)))
  const want = [PACKAGES.join(' '), hash.digest('hex')]
  const stamp = join(VENV, 'trendflex-engines-env')
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').split('\n') : []
  if (have[0] === want[0] && have[1] === want[1]) return
  const start = performance.now()
  const pip = [join(VENV, 'bin', 'pip'), 'install', '--quiet', '--disable-pip-version-check']
  if (!existsSync(PYTHON)) {
    mustRun(process.env.PYTHON || 'python3', ['-m', 'venv', VENV])
    writeFileSync(join(VENV, '.gitignore'), '*\n') // as Python 3.13's venv does: git leaves it alone
  }
  if (have[0] !== want[0]) mustRun(pip[0], [...pip.slice(1), ...PACKAGES])
  mustRun(pip[0], [...pip.slice(1), '--no-deps', '--force-reinstall', join(ROOT, 'python')])
  writeFileSync(stamp, want.join('\n') + '\n')
  console.log(`engines venv: pip install in ${seconds(start)} s`)
}

const tmp = mkdtempSync(join(tmpdir(), 'trendflex-engines-'))
after(() => rmSync(tmp, { recursive: true, force: true }))
const env = { ...process.env, TRENDFLEX_BIN: BIN }

/** Runs engines.py WHAT: a map of check name -> {ok, detail, seconds}, and how it went. */
function checks(what) {
  const start = performance.now()
  const r = sh(PYTHON, [SCRIPT, what, tmp], { env, timeout: 300_000 })
  const results = new Map()
  for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const c = JSON.parse(line)
    results.set(c.check, c)
  }
  // Our own timing lines (the engines' logs are left out).
  const timings = r.stderr.split('\n').filter((l) => new RegExp(`^(${what}|unit)[: ]`).test(l)).map((l) => l.slice(0, 160))
  console.log(`${what}: ${seconds(start)} s in all\n  ${timings.join('\n  ')}`)
  return { results, status: r.status, stderr: r.stderr }
}

function result(run, name) {
  const c = run.results.get(name)
  assert.ok(c, `no result for '${name}' (engines.py exit ${run.status}):\n${run.stderr.slice(-3000)}`)
  assert.ok(c.ok, `${name}: ${c.detail}`)
  return c.detail
}

let badMessage // the direct run's message for the bad table, less its input name and row

before(() => {
  engineVenv()
  let start = performance.now()
  mustRun(PYTHON, [SCRIPT, 'table', tmp])
  console.log(`tables: ${seconds(start)} s`)
  start = performance.now()
  const cli = (...args) => mustRun(process.execPath, [BIN, ...args], { cwd: tmp })
  cli('compute', 'table.arrow', '--group-by', 'symbol', '-p', '20', '--keep', 'ts', '-f', 'arrow', '-o', 'ref-compute.arrow')
  cli('batch', 'table.arrow', '--group-by', 'symbol', '--periods', '10,20,50', '--keep', 'ts', '-f', 'arrow', '-o', 'ref-batch.arrow')
  cli('batch', 'small.arrow', '--group-by', 'symbol', '--periods', '10,20,50', '--keep', 'ts', '-o', 'ref-small-batch.arrow')
  cli('batch', 'small.arrow', '--group-by', 'symbol', '--periods', '10,20,50', '--keep', 'ts', '-o', 'grid.parquet')
  cli('compute', 'small.arrow', '--group-by', 'symbol', '--partition-by', 'symbol', '--keep', 'ts', '-o', 'ds')
  const bad = sh(process.execPath, [BIN, 'compute', 'bad-nan.parquet', '--group-by', 'symbol', '-p', '20', '-f', 'arrow', '-o', 'bad.arrow'], { cwd: tmp })
  assert.equal(bad.status, 1, bad.stderr)
  // "trendflex: bad-nan.parquet: symbol S013: row 11099: missing price after ..."
  badMessage = bad.stderr.trim().match(/: row \d+: (.*)$/)?.[1]
  assert.match(badMessage ?? bad.stderr, /missing price after the (group's )?first valid one/)
  console.log(`direct runs: ${seconds(start)} s`)
})

/** The engine's job error carries trendflex's words for the bad row: its group, the message. */
function assertBadRow(detail) {
  assert.match(detail, /trendflex exited with code 1/)
  assert.ok(detail.includes(`symbol ${BAD_SYMBOL}: row `), detail)
  assert.ok(detail.includes(badMessage), `'${badMessage}' not in: ${detail}`)
}

describe('trendflex_arrow on its own', () => {
  let run
  before(() => (run = checks('unit')))
  it('pipes batches through trendflex, bit for bit as a direct run', () => result(run, 'unit: piped'))
  it('runs nothing for no batches and no schema', () => result(run, 'unit: no batches'))
  it('names what it looked for, host and pid, when trendflex is missing', () => result(run, 'unit: not found'))
  it('raises TrendflexError with trendflex message and exit code', () => result(run, 'unit: failure'))
  it('stops trendflex when the consumer stops early', () => result(run, 'unit: early close'))
  it('re-raises an error of the input batches', () => result(run, 'unit: input error'))
  it('output_schema: asks trendflex with an empty stream', () => result(run, 'unit: output_schema'))
})

describe('Spark local[2], spark_map in 4 partitions', () => {
  let run
  before(() => (run = checks('spark')))
  it('compute --group-by symbol -p 20 --keep ts: identical to a direct run', () => result(run, 'spark: compute'))
  it('batch --group-by symbol --periods 10,20,50 --keep ts: identical to a direct run', () => result(run, 'spark: batch'))
  it('a missing close mid-symbol fails the job with trendflex message', () => assertBadRow(result(run, 'spark: failing row')))
  it('spark.read.parquet reads a trendflex batch Parquet file', () => result(run, 'spark: read batch parquet'))
  it('spark.read.parquet reads a --partition-by dataset', () => result(run, 'spark: read partition-by dataset'))
})

describe('Ray Data local, ray_map in 4 blocks', () => {
  let run
  before(() => (run = checks('ray')))
  it('compute --group-by symbol -p 20 --keep ts: identical to a direct run', () => result(run, 'ray: compute'))
  it('batch --group-by symbol --periods 10,20,50 --keep ts: identical to a direct run', () => result(run, 'ray: batch'))
  it('a missing close mid-symbol fails the job with trendflex message', () => assertBadRow(result(run, 'ray: failing row')))
})
