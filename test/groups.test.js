// --group-by: long tables of many series. Every group, stacked or interleaved, of any length,
// with leading missing prices or a gap, computed by compute or batch and written as Parquet, CSV
// or Arrow, equals that group run alone through the API, bit for bit.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { trendflex } from 'trendflex'

import { assertSameBits, csvColumns, ok, pyarrowGrid, python, run, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('groups')

/** Five symbols of different lengths: one with missing first prices, one shorter than the
 * periods tested, one of a single row. */
const SYMBOLS = { AAPL: 300, MSFT: 57, 'BRK.B': 1, NVDA: 240, 'A,B': 120 }
const series = Object.fromEntries(
  Object.entries(SYMBOLS).map(([s, n], i) => {
    const x = randomWalk(n, 40 + i)
    if (s === 'MSFT') x.fill(NaN, 0, 9)
    return [s, x]
  }),
)

/** The table as CSV text, rows stacked (symbol after symbol) or interleaved (by time). */
function table(layout, prices = series) {
  const rows = []
  const names = Object.keys(prices)
  const longest = Math.max(...names.map((s) => prices[s].length))
  if (layout === 'stacked') for (const s of names) prices[s].forEach((v, t) => rows.push([s, t, v]))
  else for (let t = 0; t < longest; t++) for (let k = 0; k < names.length; k++) {
    const s = names[(k + t) % names.length]
    if (t < prices[s].length) rows.push([s, t, prices[s][t]])
  }
  const field = (s) => (s.includes(',') ? `"${s}"` : s)
  return { text: 'symbol,t,close\n' + rows.map(([s, t, v]) => `${field(s)},${t},${Number.isNaN(v) ? '' : v}`).join('\n') + '\n', rows }
}

/** A group run alone: the API's values, or all missing when it is too short. */
function alone(x, p) {
  try {
    return trendflex(x, p)
  } catch {
    return new Float64Array(x.length).fill(NaN)
  }
}

function checkGroups(rows, columns, periods, what, prices = series) {
  for (const s of Object.keys(prices)) {
    const at = rows.flatMap(([sym], i) => (sym === s ? [i] : []))
    for (const p of periods) {
      const got = Float64Array.from(at, (i) => columns[`trendflex_${p}`][i])
      assertSameBits(got, alone(prices[s], p), `${what}: ${s}, period ${p}`)
    }
  }
}

for (const layout of ['stacked', 'interleaved']) {
  describe(`${layout} table`, () => {
    const { text, rows } = table(layout)
    const input = join(tmp, `${layout}.csv`)
    writeFileSync(input, text)

    for (const format of ['parquet', 'arrow', 'csv']) {
      it(`batch --periods 2:40,64 to ${format}, in 50-row chunks: every group as if alone`, () => {
        const out = join(tmp, `${layout}-out.${format}`)
        const r = run(['batch', input, '--periods', '2,3,5,20,21,40,64', '--group-by', 'symbol', '--keep', 't', '--chunk-rows', '50', '-o', out])
        assert.equal(r.status, 0, r.stderr)
        assert.match(r.stderr, /^trendflex: 2 of 5 groups lack data for some periods, which are null there: symbol MSFT \(period 64 needs at least 65 valid prices, it has 48\); symbol BRK\.B \(period 2 needs at least 3 valid prices, it has 1\)\. --strict makes this an error\n$/)
        const periods = [2, 3, 5, 20, 21, 40, 64]
        if (format === 'csv') {
          const { header, cols, rows: got } = csvColumns(readText(out))
          assert.deepEqual(header.slice(0, 2), ['symbol', 't'])
          assert.deepEqual(got.map((r) => r[0]), rows.map((r) => r[0]), 'rows in input order')
          checkGroups(rows, cols, periods, `${layout} csv`)
          return
        }
        const t = pyarrowGrid(out, format)
        assert.deepEqual(t.schema.slice(0, 2), [['symbol', 'string'], ['t', 'int64']])
        checkGroups(rows, t.columns, periods, `${layout} ${format}`)
        if (format === 'parquet') assert.deepEqual({ by: t.meta.group_by, groups: t.meta.groups }, { by: ['symbol'], groups: 5 })
      })
    }

    it('compute -p 20 to CSV on stdout, and --strict refuses the short groups', () => {
      const r = run(['compute', input, '-p', '20', '--group-by', 'symbol'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /^trendflex: 1 of 5 groups lack data for some periods, which are null there: symbol BRK\.B /)
      const got = csvColumns(r.stdout)
      checkGroups(rows, got.cols, [20], `${layout} compute`)
      const strict = run(['compute', input, '-p', '20', '--group-by', 'symbol', '--strict', '-o', join(tmp, 'strict.parquet')])
      assert.equal(strict.status, 1)
      assert.match(strict.stderr, /^trendflex: symbol BRK\.B: period 20 needs at least 21 valid prices, it has 1 \(--strict\)\n$/)
    })
  })
}

function readText(path) {
  return python('import sys, json; print(json.dumps(open(sys.argv[1]).read()))', path)
}

describe('gaps stay within their group', () => {
  const gapped = { ...series, NVDA: Float64Array.from(series.NVDA) }
  gapped.NVDA[100] = NaN
  const { text, rows } = table('interleaved', gapped)
  const input = join(tmp, 'gap.csv')
  writeFileSync(input, text)
  const line = 2 + rows.findIndex(([s, t]) => s === 'NVDA' && t === 100)

  it('error names the group and the line', () => {
    const r = run(['compute', input, '--group-by', 'symbol'])
    assert.equal(r.status, 1)
    assert.equal(r.stderr, `trendflex: ${input}: symbol NVDA: line ${line}: missing price after the group's first valid one (--gaps error); use --gaps ffill to carry its last price forward, or --gaps propagate\n`)
  })

  it('propagate leaves only that group missing; ffill fills from its own last price', () => {
    const prop = csvColumns(run(['compute', input, '--group-by', 'symbol', '--gaps', 'propagate']).stdout)
    checkGroups(rows, prop.cols, [20], 'propagate', gapped)
    const filled = { ...gapped, NVDA: Float64Array.from(gapped.NVDA) }
    filled.NVDA[100] = filled.NVDA[99]
    const ffill = csvColumns(run(['compute', input, '--group-by', 'symbol', '--gaps', 'ffill']).stdout)
    checkGroups(rows, ffill.cols, [20], 'ffill', filled)
  })
})

describe('group keys', () => {
  it('several columns make one key, and their names say which group', () => {
    const input = join(tmp, 'two-keys.csv')
    const lines = ['venue,symbol,close']
    for (let t = 0; t < 40; t++) for (const v of ['X', 'Y']) lines.push(`${v},AAPL,${100 + Math.sin(t + (v === 'Y' ? 1 : 0))}`)
    writeFileSync(input, lines.join('\n') + '\n')
    const got = csvColumns(ok(['compute', input, '-p', '10', '--group-by', 'venue,symbol']))
    assert.deepEqual(got.header, ['venue', 'symbol', 'trendflex_10'])
    for (const v of ['X', 'Y']) {
      const x = Float64Array.from({ length: 40 }, (_, t) => 100 + Math.sin(t + (v === 'Y' ? 1 : 0)))
      const at = got.rows.flatMap((r, i) => (r[0] === v ? [i] : []))
      assertSameBits(Float64Array.from(at, (i) => got.cols.trendflex_10[i]), trendflex(x, 10), `venue ${v}`)
    }
    const r = run(['compute', input, '-p', '50', '--group-by', 'venue,symbol', '--strict'])
    assert.match(r.stderr, /^trendflex: venue X, symbol AAPL: period 50 needs at least 51 valid prices, it has 40 \(--strict\)\n$/)
  })
})
