// --partition-by: a hive-partitioned Parquet dataset, read back by pyarrow (dataset API, hive
// partitioning) and DuckDB (read_parquet with hive_partitioning), every symbol bit for bit as if
// run alone; written whole or not at all, never into a directory that holds anything.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { trendflex } from 'trendflex'

import { PYTHON, assertSameBits, run, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('datasets')
const VENV_BIN = join(PYTHON, '..')

/** Symbols of different lengths; one too short for period 64, one with a slash and a space. */
const SYMBOLS = { AAPL: 400, 'BRK/B x': 150, MSFT: 40, NVDA: 333 }
const prices = Object.fromEntries(Object.entries(SYMBOLS).map(([s, n], i) => [s, randomWalk(n, 90 + i)]))

function longCsv(layout) {
  const rows = []
  const names = Object.keys(prices)
  if (layout === 'stacked') for (const s of names) prices[s].forEach((v, t) => rows.push(`${s},${t},${v}`))
  else for (let t = 0; t < 400; t++) for (const s of names) if (t < prices[s].length) rows.push(`${s},${t},${prices[s][t]}`)
  return 'symbol,t,close\n' + rows.join('\n') + '\n'
}

function alone(x, p) {
  try {
    return trendflex(x, p)
  } catch {
    return new Float64Array(x.length).fill(NaN)
  }
}

/** The dataset read by pyarrow's dataset API: per symbol, t and each period's values. */
function readWithPyarrow(dir) {
  const r = spawnSync(PYTHON, ['-c', `
import sys, json, pyarrow.dataset as ds
t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
out = {}
for s in set(t.column("symbol").to_pylist()):
    g = t.filter(ds.field("symbol") == s).sort_by("t")
    out[s] = {n: [None if v is None else v for v in g.column(n).to_pylist()] for n in g.column_names if n != "symbol"}
print(json.dumps({"names": t.column_names, "groups": out}))`, dir], { encoding: 'utf8', maxBuffer: 1 << 28 })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

function duckdb(sql) {
  const r = spawnSync(join(VENV_BIN, 'duckdb'), ['-json', '-c', sql], { encoding: 'utf8', maxBuffer: 1 << 28 })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout || '[]')
}

for (const layout of ['stacked', 'interleaved']) {
  describe(`--partition-by symbol, ${layout} input`, () => {
    const input = join(tmp, `${layout}.csv`)
    writeFileSync(input, longCsv(layout))
    const out = join(tmp, `${layout}-out`)
    const r = run(['batch', input, '--group-by', 'symbol', '--keep', 't', '--periods', '5,20,64', '--partition-by', 'symbol', '--chunk-rows', '96', '-o', out])

    it('writes one folder per symbol, hive-named, and no temporary directory', () => {
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /1 of 4 groups lack data/)
      assert.deepEqual(readdirSync(out).sort(), ['symbol=AAPL', 'symbol=BRK%2FB x', 'symbol=MSFT', 'symbol=NVDA'])
      assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('.')), [])
    })

    it('pyarrow reads every symbol back, bit for bit as if run alone', () => {
      const got = readWithPyarrow(out)
      assert.deepEqual(got.names, ['t', 'trendflex_5', 'trendflex_20', 'trendflex_64', 'symbol'])
      assert.deepEqual(Object.keys(got.groups).sort(), Object.keys(prices).sort())
      for (const [s, x] of Object.entries(prices)) {
        assert.deepEqual(got.groups[s].t, Array.from(x, (_, i) => i), `${s}: all rows`)
        for (const p of [5, 20, 64]) {
          assertSameBits(Float64Array.from(got.groups[s][`trendflex_${p}`], (v) => v ?? NaN), alone(x, p), `${s}, period ${p}`)
        }
      }
    })

    it('DuckDB reads it with hive_partitioning, and finds the metadata', () => {
      const rows = duckdb(`select symbol, count(*) as n, count(trendflex_20) as valid, sum(trendflex_20) as total from read_parquet('${out}/**/*.parquet', hive_partitioning = true) group by symbol order by symbol`)
      assert.deepEqual(rows.map((r) => [r.symbol, r.n]), Object.entries(prices).sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, x]) => [s, x.length]))
      for (const row of rows) {
        const want = alone(prices[row.symbol], 20).filter((v) => !Number.isNaN(v))
        assert.equal(row.valid, want.length, row.symbol)
      }
      const meta = duckdb(`select decode(value) as v from parquet_kv_metadata('${out}/symbol=AAPL/part-0.parquet') where decode(key) = 'trendflex'`)
      const m = JSON.parse(meta[0].v)
      assert.deepEqual([m.group_by, m.groups, m.partition_by], [['symbol'], 4, ['symbol']])
    })
  })
}

describe('--partition-by refuses, and a failed run leaves nothing', () => {
  const input = join(tmp, 'in.csv')
  writeFileSync(input, longCsv('stacked'))

  it('a directory that holds anything is left alone', () => {
    const out = join(tmp, 'busy')
    mkdirSync(out)
    writeFileSync(join(out, 'mine.txt'), 'keep me')
    const r = run(['compute', input, '--group-by', 'symbol', '--partition-by', 'symbol', '-o', out])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /busy is not empty: --partition-by writes a new or empty directory/)
    assert.deepEqual(readdirSync(out), ['mine.txt'])
  })

  it('other formats and stdout are usage errors', () => {
    let r = run(['compute', input, '--partition-by', 'symbol', '-f', 'csv', '-o', join(tmp, 'x')])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /--partition-by writes a Parquet dataset/)
    r = run(['compute', input, '--partition-by', 'symbol'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /--partition-by writes a directory: give it with --output DIR/)
  })

  it('a failure half-way leaves no directory and no temporary one', () => {
    const bad = join(tmp, 'bad.csv')
    writeFileSync(bad, longCsv('stacked') + 'ZZZ,1,not-a-number\n')
    const out = join(tmp, 'never')
    const r = run(['compute', bad, '--group-by', 'symbol', '--partition-by', 'symbol', '--chunk-rows', '64', '-o', out])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /bad\.csv: line \d+/)
    assert.equal(existsSync(out), false)
    assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('.')), [])
  })
})

describe('the default Parquet opens with every reader a user has, with its default settings', () => {
  // pyarrow, DuckDB and Spark are checked above and in engines.test.js; here polars and pandas,
  // each against pyarrow's reading of the same files: a single batch file and a dataset.
  const input = join(tmp, 'readers.csv')
  writeFileSync(input, longCsv('interleaved'))
  const grid = join(tmp, 'readers-grid.parquet')
  const ds = join(tmp, 'readers-ds')
  for (const args of [['batch', input, '--group-by', 'symbol', '--periods', '5,20', '--keep', 't', '-o', grid], ['compute', input, '--group-by', 'symbol', '-p', '20', '--keep', 't', '--partition-by', 'symbol', '-o', ds]]) {
    const r = run(args)
    assert.equal(r.status, 0, r.stderr)
  }

  it('polars (read_parquet, scan_parquet with hive partitioning) and pandas read the same rows and values as pyarrow', () => {
    const r = spawnSync(PYTHON, ['-c', `
import sys, json, math, pyarrow.parquet as pq, pyarrow.dataset as pads, polars as pl, pandas as pd
grid, ds = sys.argv[1], sys.argv[2]
def summary(rows, cols):
    return [rows] + [round(sum(v for v in c if v is not None and not (isinstance(v, float) and math.isnan(v))), 9) for c in cols]
want_grid = pq.read_table(grid)
want_ds = pads.dataset(ds, format="parquet", partitioning="hive").to_table()
out = {
  "pyarrow": [summary(want_grid.num_rows, [want_grid.column(c).to_pylist() for c in ("trendflex_5", "trendflex_20")]),
              summary(want_ds.num_rows, [want_ds.column("trendflex_20").to_pylist()])],
}
g = pl.read_parquet(grid)
d = pl.scan_parquet(ds + "/**/*.parquet", hive_partitioning=True).collect()
out["polars"] = [summary(g.height, [g["trendflex_5"].to_list(), g["trendflex_20"].to_list()]),
                 summary(d.height, [d["trendflex_20"].to_list()])]
pg = pd.read_parquet(grid)
pdd = pd.read_parquet(ds)
out["pandas"] = [summary(len(pg), [pg["trendflex_5"].tolist(), pg["trendflex_20"].tolist()]),
                 summary(len(pdd), [pdd["trendflex_20"].tolist()])]
out["pandas_symbols"] = sorted(str(s) for s in pdd["symbol"].unique())
print(json.dumps(out))`, grid, ds], { encoding: 'utf8', maxBuffer: 1 << 26 })
    assert.equal(r.status, 0, r.stderr)
    const got = JSON.parse(r.stdout)
    assert.deepEqual(got.polars, got.pyarrow, 'polars')
    assert.deepEqual(got.pandas, got.pyarrow, 'pandas')
    assert.deepEqual(got.pandas_symbols, Object.keys(SYMBOLS).sort(), 'pandas reads the partition folders back as the symbol column')
    assert.equal(got.pyarrow[0][0], Object.values(SYMBOLS).reduce((a, b) => a + b, 0))
  })
})
