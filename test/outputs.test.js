// The three output formats (src/io/writers), read back by independent readers: pyarrow for
// Parquet and Arrow IPC (also from a pipe), polars and pandas for how they read our CSV. Every
// format holds the same f64 bits as the one-shot API, over many chunks.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { kernels, trendflex, trendflexBatch } from 'trendflex'

import { BIN, FIX, PYTHON, assertSameBits, csvColumns, fixtureColumn, ok, pyarrowGrid, python, tempDir } from './cli.js'

const tmp = tempDir('outputs')
const PRICES = join(FIX, 'prices.csv')
const close = fixtureColumn('prices.csv', 'close')
const ts = fixtureColumn('prices.csv', 'ts')
const PERIODS = Array.from({ length: 227 }, (_, i) => i + 5)
const want = trendflexBatch(close, PERIODS).values

function assertGrid(columns, what) {
  PERIODS.forEach((p, r) => assertSameBits(columns[`trendflex_${p}`], want.subarray(r * 2000, (r + 1) * 2000), `${what}: period ${p}`))
}

describe('every format holds the one-shot bits, over many chunks', () => {
  for (const [format, name] of [['parquet', 'grid.parquet'], ['arrow', 'grid.arrow'], ['csv', 'grid.csv']]) {
    it(`${format}: batch --periods 5:231 --keep ts in 300-row chunks`, () => {
      const out = join(tmp, name)
      ok(['batch', PRICES, '--periods', '5:231', '--keep', 'ts', '--chunk-rows', '300', '--row-group-rows', '600', '-o', out])
      if (format === 'csv') {
        const { header, cols } = csvColumns(require_text(out))
        assert.deepEqual(header, ['ts', ...PERIODS.map((p) => `trendflex_${p}`)])
        assertSameBits(cols.ts, ts, 'ts')
        assertGrid(cols, 'csv')
        return
      }
      const t = pyarrowGrid(out, format)
      assert.equal(t.rows, 2000)
      assert.deepEqual(t.schema[0], ['ts', 'int64'])
      assert.ok(t.schema.slice(1).every(([, type]) => type === 'double'))
      PERIODS.forEach((p) => assert.equal(t.nulls[`trendflex_${p}`], p, `warm-up of ${p} is null`))
      assertGrid(t.columns, format)
      assert.equal(t.meta.flavour, 'vectorta')
      assert.deepEqual(t.meta.periods, PERIODS)
      assert.ok(kernels().available.includes(t.meta.kernel))
      if (format === 'parquet') {
        assert.deepEqual(t.row_groups, [600, 600, 600, 200], 'row groups of whole 300-row chunks')
        assert.deepEqual(t.stale_stats, [])
        assert.equal(t.meta.rows, 2000, 'the footer, written last, knows the rows')
      }
    })
  }
})

function require_text(path) {
  return spawnSync('cat', [path], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout
}

describe('Arrow IPC through a pipe', () => {
  it('pyarrow.ipc.open_stream and polars.read_ipc_stream read it from stdin', () => {
    const pipe = (reader) => {
      const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" batch "${PRICES}" --periods 10,20,50 --keep ts -f arrow | "${PYTHON}" -c "$0"`, reader], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      return JSON.parse(r.stdout)
    }
    const pa = pipe(`
import sys, json, pyarrow.ipc as ipc
t = ipc.open_stream(sys.stdin.buffer).read_all()
print(json.dumps({"names": t.column_names, "t20": t.column("trendflex_20").to_pylist()}))`)
    assert.deepEqual(pa.names, ['ts', 'trendflex_10', 'trendflex_20', 'trendflex_50'])
    assertSameBits(Float64Array.from(pa.t20, (v) => v ?? NaN), trendflex(close, 20), 'pyarrow, period 20')
    const pl = pipe(`
import sys, json, polars as pl
df = pl.read_ipc_stream(sys.stdin.buffer)
print(json.dumps({"dtypes": [str(d) for d in df.dtypes], "nulls": df["trendflex_50"].null_count(), "t50": df["trendflex_50"].to_list()}))`)
    assert.deepEqual(pl.dtypes, ['Int64', 'Float64', 'Float64', 'Float64'])
    assert.equal(pl.nulls, 50)
    assertSameBits(Float64Array.from(pl.t50, (v) => v ?? NaN), trendflex(close, 50), 'polars, period 50')
  })
})

describe('CSV as data tools read it', () => {
  // A one-column file writes its missing rows as "" (for pandas, which skips blank lines), which
  // polars infers as text: the README's recipe is schema_overrides, checked here.
  it('polars infers every result column as Float64, also with warm-up and gaps', () => {
    const grid = join(tmp, 'polars.csv')
    ok(['batch', join(FIX, 'interior-gap.csv'), '--periods', '2:40', '--keep', 'ts', '--gaps', 'propagate', '-o', grid])
    const single = join(tmp, 'single.csv')
    ok(['compute', PRICES, '-p', '20', '-o', single])
    const r = python(`
import sys, json, polars as pl
a, b = pl.read_csv(sys.argv[1]), pl.read_csv(sys.argv[2], schema_overrides={'trendflex_20': pl.Float64})
print(json.dumps({"a": [str(d) for d in a.dtypes], "b": [str(d) for d in b.dtypes], "rows": [a.height, b.height],
  "b20": b["trendflex_20"].to_list()}))`, grid, single)
    assert.deepEqual(r.a, ['Int64', ...Array(39).fill('Float64')])
    assert.deepEqual(r.b, ['Float64'])
    assert.deepEqual(r.rows, [2000, 2000])
    assertSameBits(Float64Array.from(r.b20, (v) => v ?? NaN), trendflex(close, 20), 'polars reads the exact values')
  })

  it('pandas keeps every row of a one-column CSV with warm-up', () => {
    const single = join(tmp, 'pandas.csv')
    ok(['compute', PRICES, '-p', '20', '-o', single])
    const r = python(`
import sys, json, pandas as pd
d = pd.read_csv(sys.argv[1])
print(json.dumps({"rows": len(d), "dtype": str(d["trendflex_20"].dtype), "missing": int(d["trendflex_20"].isna().sum()),
  "first": float(d["trendflex_20"].iloc[20])}))`, single)
    assert.deepEqual(r, { rows: 2000, dtype: 'float64', missing: 20, first: trendflex(close, 20)[20] })
  })
})

describe('Parquet float encoding', () => {
  const encodings = (path) =>
    python(`
import json, sys, pyarrow.parquet as pq
md = pq.ParquetFile(sys.argv[1]).metadata
print(json.dumps({md.schema.column(j).name: sorted(md.row_group(0).column(j).encodings) for j in range(md.num_columns)}))`, path)

  it('floats are PLAIN by default, which every reader opens; BYTE_STREAM_SPLIT when asked; the same values', () => {
    const plain = join(tmp, 'plain.parquet')
    const split = join(tmp, 'split.parquet')
    ok(['batch', PRICES, '--periods', '10,20', '--keep', 'ts', '-o', plain])
    ok(['batch', PRICES, '--periods', '10,20', '--keep', 'ts', '--float-encoding', 'byte-stream-split', '-o', split])
    const [p, s] = [encodings(plain), encodings(split)]
    for (const c of ['trendflex_10', 'trendflex_20']) {
      assert.ok(p[c].includes('PLAIN') && !p[c].includes('BYTE_STREAM_SPLIT'), `${c}: ${p[c]}`)
      assert.ok(s[c].includes('BYTE_STREAM_SPLIT'), `${c}: ${s[c]}`)
    }
    assert.deepEqual(pyarrowGrid(plain).columns, pyarrowGrid(split).columns)
  })
})
