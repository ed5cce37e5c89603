// The programmatic API and the binding under it: results against the definition and the parity
// vectors, every kernel bit for bit, caller-owned outputs, async, streaming, errors.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'

import {
  KERNEL_NAMES,
  TrendflexStream,
  expandPeriods,
  kernels,
  trendflex,
  trendflexAsync,
  trendflexBatch,
  trendflexBatchAsync,
  trendflexBatchTable,
} from 'trendflex'

import { PARITY_LAST_FIVE, ROOT, firstDifference, oracle, parityCloses, randomWalk } from './helpers.js'

const info = kernels()
const KERNELS = info.available
const SKIPPED = KERNEL_NAMES.filter((k) => k !== 'auto' && !KERNELS.includes(k))
console.log(
  `kernels tested: ${KERNELS.join(', ')}; skipped: ${
    info.unavailable.map((u) => `${u.name} (CPU lacks ${u.missing})`).join(', ') || 'none'
  }`,
)

function assertSameBits(got, want, what) {
  const i = firstDifference(got, want)
  assert.equal(i, -1, `${what}: index ${i}: got ${got[i]}, want ${want[i]}`)
}

describe('results', () => {
  it('match the parity vectors of VectorTA with every kernel', () => {
    const close = parityCloses()
    assert.equal(close.length, 15577)
    for (const kernel of KERNELS) {
      const out = trendflex(close, 20, { kernel })
      assert.ok(out.subarray(0, 20).every(Number.isNaN), `${kernel}: indices 0..19 missing`)
      assert.equal(out[20], -5, `${kernel}: index 20`)
      PARITY_LAST_FIVE.forEach((want, i) => {
        const got = out[15572 + i]
        assert.ok(Math.abs(got - want) < 1e-12, `${kernel}: index ${15572 + i}: ${got} vs ${want}`)
      })
    }
  })

  it('match the naive oracle on random walks', () => {
    const x = randomWalk(3000, 7)
    x.fill(NaN, 0, 11)
    for (const period of [2, 3, 5, 20, 21, 231, 2988]) {
      const got = trendflex(x, period)
      const want = oracle(x, period)
      for (let i = 0; i < x.length; i++) {
        assert.equal(Number.isNaN(got[i]), Number.isNaN(want[i]), `L=${period} i=${i}`)
        if (!Number.isNaN(want[i])) assert.ok(Math.abs(got[i] - want[i]) <= 1e-9, `L=${period} i=${i}: ${got[i]} vs ${want[i]}`)
      }
    }
  })

  it('are bit-identical across kernels, and batch rows equal single runs', () => {
    const x = randomWalk(5000, 3)
    x.fill(NaN, 2000, 2003)
    const periods = expandPeriods({ start: 5, end: 231 })
    const singles = periods.map((p) => trendflex(x, p, { kernel: 'scalar' }))
    for (const kernel of KERNELS) {
      for (const [i, p] of [5, 20, 231].entries()) {
        assertSameBits(trendflex(x, p, { kernel }), trendflex(x, p, { kernel: 'scalar' }), `${kernel} single L=${p} (${i})`)
      }
      for (const threads of [1, 2]) {
        const { values } = trendflexBatch(x, { start: 5, end: 231 }, { kernel, threads })
        periods.forEach((p, r) =>
          assertSameBits(values.subarray(r * x.length, (r + 1) * x.length), singles[r], `${kernel} x${threads} row L=${p}`),
        )
      }
    }
  })

  it('follow TRENDFLEX_KERNEL for auto, in a fresh process', () => {
    const script = `
      import {kernels, trendflex} from 'trendflex'
      const x = new Float64Array(500).map((_, i) => 100 + Math.sin(i / 7) * 3 + i / 50)
      const out = trendflex(x, 20)
      console.log(JSON.stringify({auto: kernels().auto, sum: out.slice(20).reduce((a, b) => a + b, 0)}))`
    const run = (env) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' })
    const reference = JSON.parse(run({ TRENDFLEX_KERNEL: 'scalar' }).stdout)
    assert.equal(reference.auto, 'scalar')
    for (const kernel of KERNELS) {
      const r = run({ TRENDFLEX_KERNEL: kernel })
      assert.equal(r.status, 0, r.stderr)
      const got = JSON.parse(r.stdout)
      assert.equal(got.auto, kernel)
      assert.equal(got.sum, reference.sum, `${kernel} forced by TRENDFLEX_KERNEL`)
    }
    for (const kernel of SKIPPED) {
      const r = run({ TRENDFLEX_KERNEL: kernel })
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, new RegExp(`kernel ${kernel} needs the CPU feature`))
    }
    const bogus = run({ TRENDFLEX_KERNEL: 'sse9' })
    assert.match(bogus.stderr, /TRENDFLEX_KERNEL=sse9: not a kernel/)
  })
})

describe('outputs', () => {
  it('are the caller-owned buffer, written in place', () => {
    const x = randomWalk(1000, 1)
    const out = new Float64Array(1000)
    assert.equal(trendflex(x, 20, { out }), out)
    assert.ok(Math.abs(Math.abs(out[20]) - 5) < 1e-14, `first output is +-5 up to rounding: ${out[20]}`)
    const big = new Float64Array(3 * 1000 + 17)
    const { values } = trendflexBatch(x, [5, 6, 7], { out: big })
    assert.equal(values.buffer, big.buffer)
    assert.equal(values.byteOffset, 0)
    assert.equal(values.length, 3000)
    assertSameBits(big.subarray(1000, 2000), trendflex(x, 6), 'row 1 lands in the caller buffer')
    // A view into a larger buffer, not at its start.
    const shared = new Float64Array(5000)
    const view = shared.subarray(2000, 3000)
    trendflex(x, 20, { out: view })
    assertSameBits(shared.subarray(2000, 3000), trendflex(x, 20), 'written through the view')
    assert.ok(shared.subarray(0, 2000).every((v) => v === 0))
  })
})

describe('Arrow table', () => {
  it('views the batch result, one nullable column per period, nulls where there is no value', () => {
    const x = randomWalk(600, 3)
    x.fill(NaN, 0, 7) // leading missing prices
    x[400] = NaN // an interior one: VectorTA is missing from there on
    const periods = [5, 20, 77]
    const out = new Float64Array(periods.length * x.length)
    const t = trendflexBatchTable(x, periods, { out })
    assert.deepEqual(t.schema.fields.map((f) => [f.name, String(f.type), f.nullable]), periods.map((p) => [`trendflex_${p}`, 'Float64', true]))
    assert.equal(t.numRows, 600)
    periods.forEach((p, r) => {
      const col = t.getChild(`trendflex_${p}`)
      const data = col.data[0]
      assert.equal(data.values.buffer, out.buffer, 'no copy: the column is the result memory')
      const want = trendflex(x, p)
      for (let i = 0; i < 600; i++) {
        const v = col.get(i)
        if (Number.isNaN(want[i])) assert.equal(v, null, `period ${p} row ${i} is null`)
        else assert.ok(Object.is(v, want[i]), `period ${p} row ${i}: ${v} vs ${want[i]}`)
      }
      assert.equal(col.nullCount, 7 + p + (600 - 400), `period ${p}`)
      assertSameBits(out.subarray(r * 600, (r + 1) * 600), want, `row ${r} of out`)
    })
    assert.throws(() => trendflexBatchTable(x, [5, 5]), (e) => e instanceof RangeError && e.code === 'ERR_DUPLICATE_PERIOD')
  })
})

describe('async', () => {
  it('equals sync and reports increasing progress ending at 1', async () => {
    const x = randomWalk(300_000, 9)
    const fractions = []
    const out = new Float64Array(30 * x.length)
    const res = await trendflexBatchAsync(x, { start: 10, end: 39 }, { out, onProgress: (f) => fractions.push(f) })
    assert.equal(res.values, out)
    assertSameBits(out, trendflexBatch(x, { start: 10, end: 39 }).values, 'async batch')
    assert.ok(fractions.length >= 2, `progress calls: ${fractions}`)
    assert.equal(fractions.at(-1), 1)
    fractions.forEach((f, i) => i && assert.ok(f > fractions[i - 1], `not increasing: ${fractions}`))
    const single = await trendflexAsync(x, 20)
    assertSameBits(single, trendflex(x, 20), 'async single')
  })

  it('keeps the main thread free during a long batch', async () => {
    const x = randomWalk(200_000, 4)
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    const started = performance.now()
    await trendflexBatchAsync(x, { start: 5, end: 104 }, { kernel: 'scalar', threads: 1 })
    const elapsed = performance.now() - started
    clearInterval(timer)
    // A blocked main thread would fire the timer at most once, after the work.
    assert.ok(ticks >= 3, `timer fired ${ticks} times in ${elapsed.toFixed(0)} ms`)
  })

  it('rejects with the same errors as sync', async () => {
    await assert.rejects(trendflexAsync(new Float64Array([1, 2, 3]), 5), { name: 'RangeError', code: 'ERR_NOT_ENOUGH_DATA' })
    await assert.rejects(trendflexBatchAsync(new Float64Array(0), [5]), { code: 'ERR_EMPTY_INPUT' })
    await assert.rejects(trendflexBatchAsync(new Float64Array(10), [5], { out: new Float64Array(9) }), { code: 'ERR_OUTPUT_LENGTH' })
    const boom = new Error('callback failed')
    await assert.rejects(
      trendflexBatchAsync(randomWalk(200_000), { start: 5, end: 20 }, { onProgress: () => { throw boom } }),
      (e) => e === boom,
    )
  })
})

describe('streaming', () => {
  it('equals one-shot for any chunking, sync and async', async () => {
    const x = randomWalk(4000, 5)
    x.fill(NaN, 0, 3)
    const grid = { start: 5, end: 40, step: 5 }
    const want = trendflexBatch(x, grid).values
    for (const chunk of [1, 7, 512, 1000, 4000]) {
      for (const mode of ['sync', 'async']) {
        const s = new TrendflexStream(grid)
        const rows = s.periods.length
        const got = new Float64Array(want.length)
        const buf = new Float64Array(rows * chunk)
        for (let at = 0; at < x.length; at += chunk) {
          const part = x.subarray(at, at + chunk)
          const out = mode === 'sync' ? s.push(part, buf) : await s.pushAsync(part, buf)
          assert.equal(out.buffer, buf.buffer)
          for (let r = 0; r < rows; r++) got.set(out.subarray(r * part.length, (r + 1) * part.length), r * x.length + at)
        }
        s.finish()
        assertSameBits(got, want, `stream ${mode} chunk=${chunk}`)
      }
    }
    const one = new TrendflexStream(20)
    const parts = [x.subarray(0, 999), x.subarray(999)]
    const joined = Float64Array.from([...one.push(parts[0]), ...one.push(parts[1])])
    assertSameBits(joined, trendflex(x, 20), 'single-period stream')
  })

  it('saves its state and resumes from it, bit for bit, with any kernel and flavour', () => {
    const x = randomWalk(3000, 8)
    x.fill(NaN, 0, 4)
    const grid = { start: 5, end: 60 }
    for (const flavor of ['vectorta', 'ehlers']) {
      const want = trendflexBatch(x, grid, { flavor }).values
      const wantOne = trendflex(x, 20, { flavor })
      for (const cut of [0, 2, 4, 10, 63, 64, 65, 1500, 2999]) {
        for (const [k1, k2] of KERNELS.flatMap((a) => KERNELS.map((b) => [a, b]))) {
          const a = new TrendflexStream(grid, { kernel: k1, flavor })
          const first = a.push(x.subarray(0, cut))
          const saved = a.saveState()
          const b = new TrendflexStream(grid, { kernel: k2, flavor, state: saved })
          const rest = b.push(x.subarray(cut))
          const rows = a.periods.length
          const got = new Float64Array(want.length)
          for (let r = 0; r < rows; r++) {
            got.set(first.subarray(r * cut, (r + 1) * cut), r * x.length)
            got.set(rest.subarray(r * (x.length - cut), (r + 1) * (x.length - cut)), r * x.length + cut)
          }
          b.finish()
          assertSameBits(got, want, `${flavor} batch cut=${cut} ${k1}->${k2}`)
          const one = new TrendflexStream(20, { kernel: k1, flavor })
          const head = one.push(x.subarray(0, cut))
          const tail = new TrendflexStream(20, { kernel: k2, flavor, state: one.saveState() }).push(x.subarray(cut))
          assertSameBits(Float64Array.from([...head, ...tail]), wantOne, `${flavor} single cut=${cut} ${k1}->${k2}`)
        }
      }
    }
  })

  it('refuses a state of other periods, another flavour, or bytes that are not a state', () => {
    const s = new TrendflexStream([5, 10, 20])
    s.push(randomWalk(100))
    const saved = s.saveState()
    assert.ok(saved.length < 2000, `${saved.length} bytes`)
    assert.throws(() => new TrendflexStream([5, 10, 21], { state: saved }), { name: 'RangeError', code: 'ERR_STATE_MISMATCH', message: 'the state was made with periods 5,10,20, not 5,10,21' })
    assert.throws(() => new TrendflexStream([5, 10, 20], { state: saved, flavor: 'ehlers' }), { code: 'ERR_STATE_MISMATCH', message: /flavour vectorta, not ehlers/ })
    assert.throws(() => new TrendflexStream(5, { state: saved }), { code: 'ERR_STATE_MISMATCH', message: /a batch stream, not a single-period stream/ })
    assert.throws(() => new TrendflexStream([5, 10, 20], { state: saved.subarray(0, 50) }), { code: 'ERR_STATE_CORRUPT' })
    const changed = Buffer.from(saved)
    changed[40] ^= 1
    assert.throws(() => new TrendflexStream([5, 10, 20], { state: changed }), { code: 'ERR_STATE_CORRUPT', message: /checksum/ })
    assert.throws(() => new TrendflexStream([5, 10, 20], { state: Buffer.from('ts,close\n') }), { code: 'ERR_STATE_FOREIGN' })
    assert.throws(() => new TrendflexStream([5, 10, 20], { state: 'abc' }), TypeError)
  })

  it('refuses a push while an async push is running, and checks the series at finish', async () => {
    const s = new TrendflexStream([5, 6])
    const pending = s.pushAsync(randomWalk(100_000))
    assert.throws(() => s.push(new Float64Array(3)), { code: 'ERR_BUSY' })
    await pending
    s.finish()
    const short = new TrendflexStream(10)
    short.push(new Float64Array([NaN, 1, 2]))
    assert.throws(() => short.finish(), { code: 'ERR_NOT_ENOUGH_DATA', message: 'period 10 needs at least 11 valid prices, input has 2' })
    assert.throws(() => new TrendflexStream(20).finish(), { code: 'ERR_EMPTY_INPUT' })
  })
})

describe('errors', () => {
  const x = randomWalk(100)
  const cases = [
    ['prices not a Float64Array', () => trendflex([1, 2, 3], 2), TypeError, 'ERR_INVALID_ARG_TYPE', /prices must be a Float64Array, got an array/],
    ['out not a Float64Array', () => trendflex(x, 2, { out: new Float32Array(100) }), TypeError, 'ERR_INVALID_ARG_TYPE', /out must be a Float64Array, got Float32Array/],
    ['non-integer period', () => trendflex(x, 2.5), RangeError, 'ERR_PERIOD', /period must be an integer from 2 to 4294967295, got 2.5/],
    ['period below 2', () => trendflex(x, 1), RangeError, 'ERR_PERIOD', /got 1/],
    ['NaN period', () => trendflex(x, NaN), RangeError, 'ERR_PERIOD', /got NaN/],
    ['output too short', () => trendflex(x, 20, { out: new Float64Array(99) }), RangeError, 'ERR_OUTPUT_LENGTH', /out holds 99 values, needs 100/],
    ['batch output too short', () => trendflexBatch(x, [5, 6], { out: new Float64Array(150) }), RangeError, 'ERR_OUTPUT_LENGTH', /needs 200/],
    ['output overlapping input', () => trendflex(x, 20, { out: x }), RangeError, 'ERR_OVERLAP', /must not overlap/],
    ['partly overlapping views', () => { const b = new Float64Array(150); trendflex(b.subarray(0, 100), 20, { out: b.subarray(50, 150) }) }, RangeError, 'ERR_OVERLAP', /must not overlap/],
    ['empty period list', () => trendflexBatch(x, []), RangeError, 'ERR_EMPTY_PERIODS', /period list is empty/],
    ['bad period in a list', () => trendflexBatch(x, [5, 1.5]), RangeError, 'ERR_PERIOD', /periods\[1\] must be an integer/],
    ['start > end', () => trendflexBatch(x, { start: 9, end: 5 }), RangeError, 'ERR_PERIOD_RANGE', /start \(9\) is greater than end \(5\)/],
    ['step 0', () => trendflexBatch(x, { start: 5, end: 9, step: 0 }), RangeError, 'ERR_PERIOD_RANGE', /step must be an integer of at least 1/],
    ['range starting below 2', () => trendflexBatch(x, { start: 1, end: 9 }), RangeError, 'ERR_PERIOD', /start must be an integer from 2 to 4294967295/],
    ['unknown kernel', () => trendflex(x, 20, { kernel: 'sse9' }), RangeError, 'ERR_UNKNOWN_KERNEL', /unknown kernel 'sse9': expected one of auto, scalar, avx2, avx512/],
    ['bad threads', () => trendflexBatch(x, [5], { threads: -1 }), RangeError, 'ERR_THREADS', /threads must be a whole number/],
    ['empty input', () => trendflex(new Float64Array(0), 20), RangeError, 'ERR_EMPTY_INPUT', /empty input/],
    ['all prices missing', () => trendflex(new Float64Array(30).fill(NaN), 20), RangeError, 'ERR_NO_VALID_PRICES', /every price is missing/],
    ['too few valid prices', () => trendflexBatch(x, [20, 100, 150]), RangeError, 'ERR_NOT_ENOUGH_DATA', /period 100 needs at least 101 valid prices, input has 100/],
    ...SKIPPED.map((k) => [`kernel ${k} on this CPU`, () => trendflex(x, 20, { kernel: k }), RangeError, 'ERR_KERNEL_UNAVAILABLE', new RegExp(`kernel ${k} needs the CPU feature \\w+, which this CPU lacks`)]),
  ]
  for (const [what, fn, type, code, message] of cases) {
    it(what, () => assert.throws(fn, (e) => e instanceof type && e.code === code && message.test(e.message) ? true : assert.fail(`${e.name} ${e.code}: ${e.message}`)))
  }

  it('leave a caller buffer untouched when they refuse', () => {
    const out = new Float64Array(200).fill(7)
    assert.throws(() => trendflexBatch(x, [20, 100], { out }), { code: 'ERR_NOT_ENOUGH_DATA' })
    assert.ok(out.every((v) => v === 7))
  })
})
