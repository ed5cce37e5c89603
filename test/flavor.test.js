// `flavor: 'ehlers'` (and `--flavor ehlers`): Ehlers' EasyLanguage as TradeStation runs it. Its
// parity vector (TRENDFLEX.md) through the API, the stream, the Arrow table and the CLI; a naive
// oracle written from the EasyLanguage lines; every kernel bit for bit against scalar; the output
// metadata; --group-by; and the refusal of an unknown flavour.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import {
  FLAVOR_NAMES,
  TrendflexStream,
  kernels,
  trendflex,
  trendflexAsync,
  trendflexBatch,
  trendflexBatchAsync,
  trendflexBatchTable,
} from 'trendflex'

import { assertSameBits, csvColumns, ok, pyarrowGrid, pyarrowRead, run, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('flavor')
const info = kernels()
const KERNELS = info.available
console.log(
  `kernels tested: ${KERNELS.join(', ')}; skipped: ${
    info.unavailable.map((u) => `${u.name} (CPU lacks ${u.missing})`).join(', ') || 'none'
  }; flavours: ${FLAVOR_NAMES.join(', ')}`,
)

/** The parity input of TRENDFLEX.md: x[i] = 100 + 10 sin(i / 7) + 0.05 i, i = 0..499. */
const SINE = Float64Array.from({ length: 500 }, (_, i) => 100 + 10 * Math.sin(i / 7) + 0.05 * i)
/** Its L = 20 outputs, 12 significant digits (independent pure-Python implementation). */
const PARITY = { 20: 5, 21: 2.59437514463, 30: -1.92136551753, 100: 1.20958726714, 250: -1.33902612346, 499: 0.807053922186 }

function assertParity(out, what) {
  for (let i = 0; i < 20; i++) assert.ok(Number.isNaN(out[i]), `${what}: index ${i} is warm-up`)
  for (const [i, want] of Object.entries(PARITY)) {
    const got = out[Number(i)]
    assert.ok(Math.abs((got - want) / want) <= 1e-9, `${what}: index ${i}: ${got} vs ${want}`)
  }
}

/** Ehlers' EasyLanguage, line for line: the filter seeded with zeros, the lag sum recomputed. */
function easyLanguage(close, length) {
  const out = new Float64Array(close.length).fill(NaN)
  const first = close.findIndex((v) => !Number.isNaN(v))
  const y = close.subarray(first)
  const a1 = Math.exp((-1.414 * 3.14159) / (0.5 * length))
  const b1 = 2 * a1 * Math.cos((((1.414 * 180) / (0.5 * length)) * Math.PI) / 180)
  const c2 = b1
  const c3 = -a1 * a1
  const c1 = 1 - c2 - c3
  const filt = new Float64Array(y.length)
  for (let i = 2; i < y.length; i++) filt[i] = (c1 * (y[i] + y[i - 1])) / 2 + c2 * filt[i - 1] + c3 * filt[i - 2]
  let ms = 0
  for (let i = length; i < y.length; i++) {
    let sum = 0
    for (let count = 1; count <= length; count++) sum += filt[i] - filt[i - count]
    sum /= length
    ms = 0.04 * sum * sum + 0.96 * ms
    out[first + i] = ms !== 0 ? sum / Math.sqrt(ms) : 0
  }
  return out
}

describe('ehlers flavour: the definition', () => {
  it('matches the parity vector through every API form and kernel', async () => {
    for (const kernel of KERNELS) {
      const o = { kernel, flavor: 'ehlers' }
      assertParity(trendflex(SINE, 20, o), `${kernel} trendflex`)
      assertParity(await trendflexAsync(SINE, 20, o), `${kernel} trendflexAsync`)
      const batch = trendflexBatch(SINE, [7, 20, 21], o)
      assertParity(batch.values.subarray(500, 1000), `${kernel} trendflexBatch`)
      assertParity((await trendflexBatchAsync(SINE, [20, 21], o)).values.subarray(0, 500), `${kernel} trendflexBatchAsync`)
      const s = new TrendflexStream([5, 20], o)
      assert.equal(s.flavor, 'ehlers')
      const rows = new Float64Array(1000)
      for (let at = 0; at < 500; at += 37) {
        const chunk = s.push(SINE.subarray(at, at + 37))
        const n = chunk.length / 2
        rows.set(chunk.subarray(n), 500 + at)
      }
      s.finish()
      assertParity(rows.subarray(500), `${kernel} TrendflexStream`)
    }
    const table = trendflexBatchTable(SINE, [20], { flavor: 'ehlers' })
    const col = table.getChild('trendflex_20')
    assert.equal(col.nullCount, 20)
    assertParity(Float64Array.from(col.toArray(), (v) => v ?? NaN), 'trendflexBatchTable')
  })

  it('matches a naive EasyLanguage oracle on random walks, periods 2..=256', () => {
    let worst = 0
    for (const [seed, lead] of [[3, 0], [4, 9]]) {
      const x = randomWalk(700, seed)
      x.fill(NaN, 0, lead)
      for (let p = 2; p <= 256; p++) {
        const got = trendflex(x, p, { flavor: 'ehlers', kernel: 'scalar' })
        const want = easyLanguage(x, p)
        for (let i = 0; i < x.length; i++) {
          assert.equal(Number.isNaN(got[i]), Number.isNaN(want[i]), `seed ${seed} L=${p} i=${i}`)
          if (Number.isNaN(want[i])) continue
          const d = Math.abs(got[i] - want[i])
          worst = Math.max(worst, d)
          assert.ok(d <= 1e-9 * Math.max(1, Math.abs(want[i])), `seed ${seed} L=${p} i=${i}: ${got[i]} vs ${want[i]}`)
        }
      }
    }
    console.log(`ehlers vs EasyLanguage oracle, periods 2..=256: max abs difference ${worst.toExponential(2)}`)
  })

  it('is the same bits on every kernel, batch and single, and differs from vectorta', () => {
    const x = randomWalk(2051, 7)
    x.fill(NaN, 0, 5)
    const grid = { start: 2, end: 64 }
    const want = trendflexBatch(x, grid, { kernel: 'scalar', flavor: 'ehlers' }).values
    for (const kernel of KERNELS) {
      for (const threads of [1, 2]) {
        assertSameBits(trendflexBatch(x, grid, { kernel, threads, flavor: 'ehlers' }).values, want, `${kernel} x${threads}`)
      }
      for (const p of [2, 3, 20, 21, 257]) {
        assertSameBits(trendflex(x, p, { kernel, flavor: 'ehlers' }), trendflex(x, p, { kernel: 'scalar', flavor: 'ehlers' }), `${kernel} L=${p}`)
      }
    }
    const vectorta = trendflex(x, 21)
    assertSameBits(trendflex(x, 21, { flavor: 'vectorta' }), vectorta, 'vectorta is the default')
    assert.notDeepEqual(trendflex(x, 21, { flavor: 'ehlers' }).subarray(100), vectorta.subarray(100))
  })

  it('refuses an unknown flavour everywhere, naming both', async () => {
    const refused = { name: 'RangeError', code: 'ERR_UNKNOWN_FLAVOR', message: "unknown flavour 'tradestation': use vectorta or ehlers" }
    const o = { flavor: 'tradestation' }
    assert.throws(() => trendflex(SINE, 20, o), refused)
    assert.throws(() => trendflexBatch(SINE, [20], o), refused)
    assert.throws(() => trendflexBatchTable(SINE, [20], o), refused)
    assert.throws(() => new TrendflexStream(20, o), refused)
    await assert.rejects(trendflexAsync(SINE, 20, o), refused)
  })
})

describe('ehlers flavour: the CLI', () => {
  const sine = join(tmp, 'sine.csv')
  writeFileSync(sine, 'close\n' + Array.from(SINE, (v) => `${v}\n`).join(''))

  it('compute --flavor ehlers gives the parity vector, and says so in the metadata', () => {
    const { cols } = csvColumns(ok(['compute', sine, '-p', '20', '--flavor', 'ehlers']))
    assertParity(cols.trendflex_20, 'CLI CSV')
    assertSameBits(cols.trendflex_20, trendflex(SINE, 20, { flavor: 'ehlers' }), 'CLI = API')
    const out = join(tmp, 'sine.parquet')
    ok(['compute', sine, '-p', '20', '--flavor', 'ehlers', '-o', out])
    // pyarrowRead, not pyarrowGrid: 500 values make a raw file small enough for Node's buffer
    // pool, which pyarrowGrid's `readFileSync(raw).buffer` does not account for.
    const read = pyarrowRead(out)
    assert.equal(read.meta.flavour, 'ehlers')
    assertParity(Float64Array.from(read.columns.trendflex_20, (v) => v ?? NaN), 'CLI Parquet')
    ok(['compute', sine, '-p', '20', '-o', out])
    assert.equal(pyarrowRead(out).meta.flavour, 'vectorta', 'the default flavour')
  })

  it('batch --flavor ehlers equals the API bit for bit, in Arrow too', () => {
    const x = randomWalk(3000, 12)
    const prices = join(tmp, 'walk.csv')
    writeFileSync(prices, 'close\n' + Array.from(x, (v) => `${v}\n`).join(''))
    const out = join(tmp, 'walk.arrow')
    ok(['batch', prices, '--periods', '5:231', '--flavor', 'ehlers', '--chunk-rows', '1000', '-o', out])
    const grid = pyarrowGrid(out, 'arrow')
    assert.equal(grid.meta.flavour, 'ehlers')
    const { periods, values } = trendflexBatch(x, { start: 5, end: 231 }, { flavor: 'ehlers', kernel: 'scalar' })
    periods.forEach((p, r) => assertSameBits(grid.columns[`trendflex_${p}`], values.subarray(r * 3000, (r + 1) * 3000), `batch L=${p}`))
  })

  it('--group-by --flavor ehlers gives every group its own ehlers series', () => {
    const groups = { A: randomWalk(400, 1), B: randomWalk(333, 2), C: randomWalk(50, 3) }
    const rows = []
    for (let t = 0; t < 400; t++) for (const g of 'ABC') if (t < groups[g].length) rows.push([g, groups[g][t]])
    const input = join(tmp, 'groups.csv')
    writeFileSync(input, 'symbol,close\n' + rows.map(([g, v]) => `${g},${v}\n`).join(''))
    const { cols } = csvColumns(ok(['batch', input, '--group-by', 'symbol', '--periods', '5,20,21', '--flavor', 'ehlers', '--chunk-rows', '64']))
    for (const g of 'ABC') {
      const at = rows.flatMap(([s], i) => (s === g ? [i] : []))
      for (const p of [5, 20, 21]) {
        const got = Float64Array.from(at, (i) => cols[`trendflex_${p}`][i])
        assertSameBits(got, trendflex(groups[g], p, { flavor: 'ehlers' }), `group ${g} L=${p}`)
      }
    }
  })

  it('refuses an unknown --flavor as a usage error', () => {
    const r = run(['compute', sine, '--flavor', 'pandas'])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /--flavor.*vectorta, ehlers/)
    assert.equal(r.stdout, '')
  })
})
