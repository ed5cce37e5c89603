// Several inputs read as one table: files in the order given, quoted globs, hive-partitioned
// directories (written by pyarrow, partition values as columns), Parquet and CSV mixed, and Arrow
// IPC (stream on stdin, file) as input. Each checked bit for bit against the API run on the same
// prices in one piece, or per group.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { trendflex } from 'trendflex'

import { BIN, PYTHON, assertSameBits, csvColumns, ok, pyarrowGrid, pyarrowRead, python, run, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('inputs')
const csv = (x, from = 0) => 'ts,close\n' + Array.from(x, (v, i) => `${from + i},${Number.isNaN(v) ? '' : v}`).join('\n') + '\n'

describe('several files are one table, in order', () => {
  const x = randomWalk(700, 7)
  // part-2 must come before part-10: names sort by their numbers, as a person reads them.
  const parts = [
    ['part-1.csv', 0, 150],
    ['part-2.csv', 150, 400],
    ['part-10.csv', 400, 700],
  ]
  for (const [name, a, b] of parts) writeFileSync(join(tmp, name), csv(x.subarray(a, b), a))

  it('files given one by one', () => {
    const { cols } = csvColumns(ok(['compute', ...parts.map(([n]) => join(tmp, n)), '--keep', 'ts', '-p', '30']))
    assertSameBits(cols.trendflex_30, trendflex(x, 30), 'three CSV files')
    assert.deepEqual(Array.from(cols.ts), Array.from(x, (_, i) => i))
  })

  it('a quoted glob, in natural order (part-2 before part-10)', () => {
    const { cols } = csvColumns(ok(['compute', join(tmp, 'part-*.csv'), '--keep', 'ts', '-p', '30']))
    assertSameBits(cols.trendflex_30, trendflex(x, 30), 'glob')
    assert.deepEqual(Array.from(cols.ts), Array.from(x, (_, i) => i))
  })

  it('Parquet and CSV mixed; keep columns take the first file\'s types', () => {
    const pq = join(tmp, 'middle.parquet')
    python(`
import sys, pyarrow as pa, pyarrow.parquet as pq, pyarrow.csv as pc, json
t = pc.read_csv(sys.argv[1]); pq.write_table(t, sys.argv[2], row_group_size=64); print(json.dumps(str(t.schema.field("ts").type)))`, join(tmp, 'part-2.csv'), pq)
    const out = join(tmp, 'mixed.parquet')
    ok(['compute', join(tmp, 'part-1.csv'), pq, join(tmp, 'part-10.csv'), '--keep', 'ts', '-p', '30', '-o', out])
    const t = python('import sys, json, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(json.dumps({"ts": str(t.schema.field("ts").type), "v": t.column("trendflex_30").to_pylist(), "t": t.column("ts").to_pylist()}))', out)
    assert.equal(t.ts, 'int64')
    assert.deepEqual(t.t, Array.from(x, (_, i) => i))
    assertSameBits(Float64Array.from(t.v, (v) => v ?? NaN), trendflex(x, 30), 'CSV, Parquet, CSV')
  })

  it('--group-by filename: every file its own series', () => {
    const { cols, rows } = csvColumns(ok(['compute', join(tmp, 'part-1.csv'), join(tmp, 'part-2.csv'), '--group-by', 'filename', '-p', '30']))
    assert.equal(rows[0][0], join(tmp, 'part-1.csv'))
    assert.equal(rows[150][0], join(tmp, 'part-2.csv'))
    assertSameBits(cols.trendflex_30.subarray(0, 150), trendflex(x.subarray(0, 150), 30), 'part-1 alone')
    assertSameBits(cols.trendflex_30.subarray(150), trendflex(x.subarray(150, 400), 30), 'part-2 alone')
  })

  it('a missing file fails before anything is written', () => {
    const out = join(tmp, 'never.parquet')
    const r = run(['compute', join(tmp, 'part-1.csv'), join(tmp, 'nope.csv'), '-o', out])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /nope\.csv: no such file or directory\n$/)
    assert.equal(existsSync(out), false)
  })

  it('a glob that matches nothing, and stdin with files, are usage errors', () => {
    let r = run(['compute', join(tmp, 'zzz-*.csv')])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /no file matches .*zzz-\*\.csv/)
    r = run(['compute', join(tmp, 'part-1.csv'), '-'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /stdin \(-\) cannot be read together with files/)
  })

  it('an error in a later file names that file and its line', () => {
    const bad = join(tmp, 'bad.csv')
    writeFileSync(bad, 'ts,close\n1,100\n2,abc\n')
    const r = run(['compute', join(tmp, 'part-1.csv'), bad, '-p', '30', '-o', join(tmp, 'bad-out.csv')])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^trendflex: .*bad\.csv: line 3/)
    assert.equal(existsSync(join(tmp, 'bad-out.csv')), false)
  })

  it('the output may not be one of the inputs', () => {
    const r = run(['compute', join(tmp, 'part-1.csv'), join(tmp, 'part-2.csv'), '-o', join(tmp, 'part-2.csv')])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /part-2\.csv is the input file/)
  })
})

describe('a hive-partitioned directory', () => {
  const symbols = { AAPL: 300, 'BRK/B': 90, MSFT: 250 }
  const prices = Object.fromEntries(Object.entries(symbols).map(([s, n], i) => [s, randomWalk(n, 70 + i)]))
  const ds = join(tmp, 'ds')
  const flat = join(tmp, 'long.csv')
  writeFileSync(flat, 'symbol,ts,close\n' + Object.entries(prices).flatMap(([s, x]) => Array.from(x, (v, i) => `${s},${i},${v}`)).join('\n') + '\n')
  // pyarrow writes it: symbol=AAPL/<uuid>-0.parquet, %-encoding the slash, as Hive does.
  python(`
import sys, json, pyarrow.csv as pc, pyarrow.dataset as ds
t = pc.read_csv(sys.argv[1])
ds.write_dataset(t, sys.argv[2], format="parquet", partitioning=["symbol"], partitioning_flavor="hive", max_rows_per_group=64, max_rows_per_file=128)
print(json.dumps(1))`, flat, ds)
  mkdirSync(join(ds, '_meta'), { recursive: true })
  writeFileSync(join(ds, '_SUCCESS'), '')
  writeFileSync(join(ds, '_meta', 'x.txt'), 'not data')

  for (const format of ['parquet', 'arrow']) {
    it(`--group-by symbol, partition values as a column, to ${format}: every symbol as if alone`, () => {
      const out = join(tmp, `ds-out.${format}`)
      ok(['batch', ds, '--group-by', 'symbol', '--keep', 'ts', '--periods', '5,20,64', '-o', out])
      const t = python(`
import sys, json, pyarrow as pa, pyarrow.ipc as ipc, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]) if sys.argv[2] == 'parquet' else ipc.open_stream(pa.OSFile(sys.argv[1])).read_all()
print(json.dumps({"names": t.column_names, "symbol": t.column("symbol").to_pylist(), "ts": t.column("ts").to_pylist()}))`, out, format)
      assert.deepEqual(t.names, ['symbol', 'ts', 'trendflex_5', 'trendflex_20', 'trendflex_64'])
      const grid = pyarrowGrid(out, format)
      for (const [s, x] of Object.entries(prices)) {
        const at = t.symbol.flatMap((v, i) => (v === s ? [i] : []))
        assert.equal(at.length, x.length, `${s}: all rows`)
        assert.deepEqual(at.map((i) => t.ts[i]), Array.from(x, (_, i) => i), `${s}: rows in order`)
        for (const p of [5, 20, 64]) {
          assertSameBits(Float64Array.from(at, (i) => grid.columns[`trendflex_${p}`][i]), trendflex(x, p), `${s}, period ${p}`)
        }
      }
    })
  }

  it('partitions that differ between inputs are refused', () => {
    const r = run(['compute', ds, join(tmp, 'part-1.csv')])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /is partitioned by nothing, but .* by symbol/)
  })
})

describe('Arrow IPC input', () => {
  const x = randomWalk(500, 3)
  x.fill(NaN, 0, 4)
  const source = join(tmp, 'arrow-src.csv')
  writeFileSync(source, csv(x))
  const toArrow = (kind) => `
import sys, pyarrow as pa, pyarrow.csv as pc
t = pc.read_csv(sys.argv[1])
sink = sys.stdout.buffer if sys.argv[2] == 'stream' else pa.OSFile(sys.argv[3], 'wb')
w = pa.ipc.new_stream(sink, t.schema) if sys.argv[2] == 'stream' else pa.ipc.new_file(sink, t.schema)
for b in t.to_batches(max_chunksize=37): w.write_batch(b)
w.close()
if sys.argv[2] == 'stream': sys.stdout.buffer.flush()
else: sink.close(); print(1)`

  it('a stream on stdin, batches of any size (pyarrow writes it)', () => {
    const stream = execFileSync(PYTHON, ['-c', toArrow(), source, 'stream'])
    const r = run(['compute', '-p', '20', '--keep', 'ts'], { input: stream })
    assert.equal(r.status, 0, r.stderr)
    const { cols } = csvColumns(r.stdout)
    assertSameBits(cols.trendflex_20, trendflex(x, 20), 'Arrow stream on stdin')
  })

  it('a file', () => {
    const file = join(tmp, 'prices.arrow')
    python(toArrow(), source, 'file', file)
    const { cols } = csvColumns(ok(['compute', file, '-p', '20']))
    assertSameBits(cols.trendflex_20, trendflex(x, 20), 'Arrow file')
  })
})

describe('no rows in: an empty result where a pipeline passes nothing through', () => {
  const empty = join(tmp, 'empty.arrow')
  execFileSync(PYTHON, ['-c', `
import sys, pyarrow as pa
s = pa.schema([("symbol", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")), ("close", pa.float64())])
with pa.OSFile(sys.argv[1], "wb") as f:
    pa.ipc.new_stream(f, s).close()`, empty])
  const streamOf = (bytes) => {
    const out = join(tmp, 'empty-out.arrow')
    writeFileSync(out, bytes)
    return python('import sys, json, pyarrow as pa; t = pa.ipc.open_stream(pa.OSFile(sys.argv[1])).read_all(); print(json.dumps([[f.name, str(f.type)] for f in t.schema] + [t.num_rows]))', out)
  }
  const input = () => execFileSync('cat', [empty])

  it('an Arrow IPC stream with a schema and no rows (an empty Spark or Ray partition): the output schema, no rows, exit 0', () => {
    for (const [args, schema] of [
      [['compute', '-p', '20', '--keep', 'ts'], [['ts', 'timestamp[ms, tz=UTC]'], ['trendflex_20', 'double']]],
      [['batch', '--periods', '10,20', '--group-by', 'symbol', '--keep', 'ts'], [['symbol', 'string'], ['ts', 'timestamp[ms, tz=UTC]'], ['trendflex_10', 'double'], ['trendflex_20', 'double']]],
    ]) {
      const r = spawnSync(process.execPath, [BIN, ...args, '-f', 'arrow'], { input: input() })
      assert.equal(r.status, 0, String(r.stderr))
      assert.equal(String(r.stderr), '')
      assert.deepEqual(streamOf(r.stdout), [...schema, 0], args.join(' '))
    }
  })

  it('into Parquet, and from CSV with --group-by: a valid file of no rows', () => {
    const pq = join(tmp, 'empty-grid.parquet')
    const r = spawnSync(process.execPath, [BIN, 'batch', '--periods', '10,20', '--group-by', 'symbol', '--keep', 'ts', '-o', pq], { input: input() })
    assert.equal(r.status, 0, String(r.stderr))
    const read = pyarrowRead(pq)
    assert.deepEqual([read.rows, read.schema.map((f) => f[0])], [0, ['symbol', 'ts', 'trendflex_10', 'trendflex_20']])
    assert.equal(ok(['compute', '--group-by', 'symbol', '--keep', 'ts'], { input: 'symbol,ts,close\n' }), 'symbol,ts,trendflex_20\n')
  })

  it('one series from a file with no rows stays an error', () => {
    const r = run(['compute', '--keep', 'ts'], { input: 'symbol,ts,close\n' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^trendflex: stdin: empty input: there are no prices to compute on\n$/)
  })
})

describe('time-zone-aware timestamps kept: the same instants in every output format', () => {
  // As pandas writes them: a named zone (with a daylight-saving change inside the data), UTC, and
  // a zone-less timestamp beside them.
  const input = join(tmp, 'tz.parquet')
  execFileSync(PYTHON, ['-c', `
import sys, pandas as pd, numpy as np
n = 60
ts = pd.date_range("2024-03-09 22:00", periods=n, freq="h", tz="America/New_York")
pd.DataFrame({"ny": ts, "utc": ts.tz_convert("UTC").astype("datetime64[ms, UTC]"), "naive": ts.tz_localize(None),
              "close": 100 + np.sin(np.arange(n) / 5)}).to_parquet(sys.argv[1])`, input])
  const want = python(`
import sys, json, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({n: [str(t.schema.field(n).type), t.column(n).cast("int64").to_pylist()] for n in ("ny", "utc", "naive")}))`, input)

  it('into CSV: ISO 8601 with the offset of the zone, which pandas parses back to the same instants', () => {
    const out = join(tmp, 'tz.csv')
    ok(['compute', input, '--keep', 'ny,utc,naive', '-p', '5', '-o', out])
    const text = ok(['compute', input, '--keep', 'ny', '-p', '5'])
    assert.match(text.split('\n')[1], /^2024-03-09T22:00:00-05:00,/, 'New York time before the change, with its offset')
    assert.match(text.split('\n').find((l) => l.startsWith('2024-03-10T03:00:00')) ?? '', /^2024-03-10T03:00:00-04:00,/, 'and after it')
    const got = python(`
import sys, json, pandas as pd
d = pd.read_csv(sys.argv[1])
print(json.dumps({c: pd.to_datetime(d[c], utc=(c != "naive"), format="ISO8601").dt.as_unit("ns").astype("int64").tolist() for c in ("ny", "utc", "naive")}))`, out)
    const ns = (unit, xs) => xs.map((v) => v * { 'ns': 1, 'us': 1e3, 'ms': 1e6, 's': 1e9 }[unit])
    for (const c of ['ny', 'utc', 'naive']) {
      const unit = /timestamp\[(\w+)/.exec(want[c][0])[1]
      assert.deepEqual(got[c], ns(unit, want[c][1]), `${c}: the same instants`)
    }
  })

  for (const format of ['parquet', 'arrow']) {
    it(`into ${format}: the same type, zone included, and the same values`, () => {
      const out = join(tmp, `tz-out.${format}`)
      ok(['compute', input, '--keep', 'ny,utc,naive', '-p', '5', '-o', out])
      const got = python(`
import sys, json, pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]) if sys.argv[2] == "parquet" else pa.ipc.open_stream(pa.OSFile(sys.argv[1])).read_all()
print(json.dumps({n: [str(t.schema.field(n).type), t.column(n).cast("int64").to_pylist()] for n in ("ny", "utc", "naive")}))`, out, format)
      assert.deepEqual(got, want)
    })
  }
})
