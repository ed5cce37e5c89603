// The commands as a user meets them: bin/run.js spawned with real stdin, stdout, exit codes and
// files. Results are checked against the naive oracle, the parity vectors and the API; our
// Parquet is read back with pyarrow (set up by scripts/test-env.sh). Output formats and where
// output goes have test files of their own (outputs, sink).
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { kernels, trendflex, trendflexBatch } from 'trendflex'

import { FIX, assertSameBits, csvColumns, fixtureColumn, ok, pyarrowGrid, pyarrowRead, run, tempDir } from './cli.js'
import { PARITY_CSV, PARITY_LAST_FIVE, ROOT, oracle } from './helpers.js'

const tmp = tempDir('cli')

const close = fixtureColumn('prices.csv', 'close')

describe('compute', () => {
  it('CSV to stdout: the oracle, to the bit the API, warm-up empty', () => {
    const { header, cols } = csvColumns(ok(['compute', join(FIX, 'prices.csv'), '-p', '20']))
    assert.deepEqual(header, ['trendflex_20'])
    const got = cols.trendflex_20
    assert.equal(got.length, 2000)
    assertSameBits(got, trendflex(close, 20), 'CLI vs API')
    const want = oracle(close, 20)
    for (let i = 0; i < got.length; i++) {
      if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `row ${i} should be empty`)
      else assert.ok(Math.abs(got[i] - want[i]) <= 1e-9, `row ${i}: ${got[i]} vs ${want[i]}`)
    }
  })

  it('reads stdin when INPUT is - or omitted, CSV and Parquet', () => {
    const want = ok(['compute', join(FIX, 'prices.csv'), '-p', '9'])
    assert.equal(ok(['compute', '-p', '9'], { input: readFileSync(join(FIX, 'prices.csv')) }), want)
    assert.equal(ok(['compute', '-', '-p', '9'], { input: readFileSync(join(FIX, 'prices.csv')) }), want)
    assert.equal(ok(['compute', '-p', '9'], { input: readFileSync(join(FIX, 'prices.parquet')) }), want)
  })

  it('Parquet to Parquet: pyarrow sees nulls for warm-up and the metadata', () => {
    const out = join(tmp, 'tf.parquet')
    ok(['compute', join(FIX, 'prices.parquet'), '-p', '30', '--keep', 'ts', '-o', out])
    const t = pyarrowRead(out)
    assert.deepEqual(t.schema, [['ts', 'int64'], ['trendflex_30', 'double']])
    assert.equal(t.rows, 2000)
    assert.deepEqual(t.columns.ts.slice(0, 2), [1700000000000, 1700014400000])
    const values = t.columns.trendflex_30
    assert.ok(values.slice(0, 30).every((v) => v === null))
    assert.ok(values.slice(30).every((v) => typeof v === 'number'))
    assertSameBits(Float64Array.from(values, (v) => v ?? NaN), trendflex(close, 30), 'Parquet values')
    assert.equal(t.meta.tool, 'trendflex')
    assert.equal(t.meta.flavour, 'vectorta')
    assert.deepEqual(t.meta.periods, [30])
    assert.equal(t.meta.column, 'close')
    assert.equal(t.meta.rows, 2000)
    assert.ok(kernels().available.includes(t.meta.kernel))
  })

  it('reproduces the parity vectors of VectorTA (column 2, period 20)', () => {
    const { cols } = csvColumns(ok(['compute', PARITY_CSV, '-c', '2', '-p', '20']))
    const got = cols.trendflex_20
    assert.equal(got.length, 15577)
    assert.ok(got.subarray(0, 20).every(Number.isNaN))
    assert.equal(got[20], -5)
    PARITY_LAST_FIVE.forEach((want, i) => assert.ok(Math.abs(got[15572 + i] - want) < 1e-12, `index ${15572 + i}`))
  })
})

describe('batch', () => {
  it('columns equal compute per period, bit for bit, in period order', () => {
    const { header, cols } = csvColumns(ok(['batch', join(FIX, 'prices.csv'), '--periods', '5:40']))
    assert.deepEqual(header, Array.from({ length: 36 }, (_, i) => `trendflex_${i + 5}`))
    for (const p of [5, 6, 17, 40]) {
      const single = csvColumns(ok(['compute', join(FIX, 'prices.csv'), '-p', String(p)])).cols[`trendflex_${p}`]
      assertSameBits(cols[`trendflex_${p}`], single, `batch column ${p}`)
    }
    const list = csvColumns(ok(['batch', join(FIX, 'prices.csv'), '--periods', '50,10,20'])).header
    assert.deepEqual(list, ['trendflex_50', 'trendflex_10', 'trendflex_20'])
  })

  it('writes a Parquet grid with --keep columns first, nulls per period', () => {
    const out = join(tmp, 'grid.parquet')
    ok(['batch', join(FIX, 'prices.csv'), '--periods', '10:200:10', '--keep', 'ts,volume', '--threads', '2', '-o', out])
    const t = pyarrowRead(out)
    assert.deepEqual(t.schema.slice(0, 3), [['ts', 'int64'], ['volume', 'double'], ['trendflex_10', 'double']])
    assert.equal(t.schema.length, 2 + 20)
    for (const p of [10, 100, 200]) {
      const col = t.columns[`trendflex_${p}`]
      assert.equal(col.findIndex((v) => v !== null), p, `first value of period ${p}`)
      assertSameBits(Float64Array.from(col, (v) => v ?? NaN), trendflex(close, p), `period ${p}`)
    }
    assert.deepEqual(t.meta.periods, Array.from({ length: 20 }, (_, i) => 10 * (i + 1)))
    assert.equal(t.meta.rows, 2000, 'CSV files are counted before writing')
  })

  // Many chunks: the first holds the warm-up nulls, the rest none; Parquet input brings chunks
  // cut short at its row groups (512 rows each here).
  for (const [input, keep] of [['prices.csv', 'ts'], ['prices.parquet', 'ts'], ['prices.csv', 'volume,ts']]) {
    it(`${input} --keep ${keep} in 300-row chunks: every row group is its own data, stats included`, () => {
      const out = join(tmp, 'chunks.parquet')
      ok(['batch', join(FIX, input), '--periods', '5:231', '--keep', keep, '--chunk-rows', '300', '--row-group-rows', '600', '-o', out])
      const t = pyarrowGrid(out)
      assert.equal(t.rows, 2000)
      assert.ok(t.row_groups.length >= 4, `row groups: ${t.row_groups}`)
      assert.deepEqual(t.stale_stats, [], 'row-group statistics are there and match their data')
      assert.ok(t.stats_checked > 200 * 3, `statistics checked: ${t.stats_checked}`)
      const periods = Array.from({ length: 227 }, (_, i) => i + 5)
      const want = trendflexBatch(close, periods).values
      periods.forEach((p, r) => assertSameBits(t.columns[`trendflex_${p}`], want.subarray(r * 2000, (r + 1) * 2000), `period ${p}`))
    })
  }

  it('types --keep columns from CSV: integers, numbers, text with nulls', () => {
    const input = join(tmp, 'keep.csv')
    const rows = ['sym,n,x,close']
    for (let i = 0; i < 50; i++) rows.push(`${i % 3 ? 'BTC' : '"ETH, spot"'},${i === 7 ? '' : i * 10},${i / 4},${close[i]}`)
    writeFileSync(input, rows.join('\n') + '\n')
    const out = join(tmp, 'keep.parquet')
    ok(['compute', input, '-p', '5', '--keep', 'sym,n,x', '-o', out])
    const t = pyarrowRead(out)
    assert.deepEqual(t.schema, [['sym', 'string'], ['n', 'int64'], ['x', 'double'], ['trendflex_5', 'double']])
    assert.deepEqual(t.columns.sym.slice(0, 3), ['ETH, spot', 'BTC', 'BTC'])
    assert.equal(t.columns.n[7], null)
    assert.equal(t.columns.n[49], 490)
    assert.equal(t.columns.x[3], 0.75)
    const back = csvColumns(ok(['compute', input, '-p', '5', '--keep', 'sym']))
    assert.equal(back.rows[0][0], 'ETH, spot', 'text fields are quoted back in CSV')
  })
})

describe('gaps', () => {
  const gap = join(FIX, 'interior-gap.csv')
  it('error (default) names the line and exits 1', () => {
    const r = run(['compute', gap])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^trendflex: .*interior-gap\.csv: line 1002: missing price after the first valid one \(--gaps error\)/)
    assert.equal(r.stdout, '')
  })
  it('names the true line past blank lines and quoted newlines', () => {
    const input = join(tmp, 'lines.csv')
    writeFileSync(input, 'note,close\n"two\nlines",1\n\nx,2\n\n\nx,\nx,4\n')
    const r = run(['compute', input, '-p', '2'])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^trendflex: .*lines\.csv: line 8: missing price/)
  })

  it('propagate is VectorTA: missing from the gap on', () => {
    const got = csvColumns(ok(['compute', gap, '--gaps', 'propagate'])).cols.trendflex_20
    assertSameBits(got.subarray(0, 1000), trendflex(close, 20).subarray(0, 1000), 'before the gap')
    assert.ok(got.subarray(1000).every(Number.isNaN))
  })
  it('ffill carries the last price forward', () => {
    const filled = Float64Array.from(close)
    filled[1000] = filled[999]
    assertSameBits(csvColumns(ok(['compute', gap, '--gaps', 'ffill'])).cols.trendflex_20, trendflex(filled, 20), 'ffill')
  })
  it('leading missing prices are always allowed', () => {
    const got = csvColumns(ok(['compute', join(FIX, 'leading-gaps.csv')])).cols.trendflex_20
    const prices = fixtureColumn('leading-gaps.csv', 'close')
    assert.ok(got.subarray(0, 45).every(Number.isNaN))
    assertSameBits(got, trendflex(prices, 20), 'leading gaps')
  })
})

describe('environment', () => {
  it('TRENDFLEX_KERNEL selects the kernel, and bad values are usage errors', () => {
    for (const k of kernels().available) {
      assert.match(ok(['kernels'], { env: { TRENDFLEX_KERNEL: k } }), new RegExp(`auto: +${k} \\(TRENDFLEX_KERNEL=${k}\\)`))
    }
  })
})

describe('kernels', () => {
  it('kernels says what runs here and why', () => {
    const info = kernels()
    const text = ok(['kernels'], { env: { TRENDFLEX_KERNEL: '' } })
    assert.match(text, new RegExp(`available: ${info.available.join(', ')}`))
    assert.match(text, new RegExp(`auto: +${info.best} \\(the fastest this CPU runs\\)`))
    assert.deepEqual(JSON.parse(ok(['kernels', '--json'], { env: { TRENDFLEX_KERNEL: '' } })).available, info.available)
  })

  it('--version names the addon loaded and the kernels, for bug reports', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    const addon = join(ROOT, 'native', 'node', 'trendflex.linux-x64-gnu.node')
    const want = `trendflex/${version} linux-x64-gnu node-${process.version}\naddon: source-built ${addon}\nkernels: ${kernels().available.join(', ')} (auto: ${kernels().best})\n`
    assert.equal(ok(['--version'], { env: { TRENDFLEX_KERNEL: '' } }), want)
    assert.equal(ok(['-v'], { env: { TRENDFLEX_KERNEL: '', TRENDFLEX_ADDON: addon } }), want.replace('source-built', 'TRENDFLEX_ADDON'))
  })
})
