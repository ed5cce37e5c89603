// Shared test helpers: a naive oracle from the definition, seeded inputs, the parity data read
// with an independent CSV parser, and bit-for-bit comparison.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { parse } from 'csv-parse/sync'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const SHARED_DATA = join(ROOT, '..', 'shared', 'data')
export const PARITY_CSV = join(SHARED_DATA, 'bitfinex-btcusd-4h.csv')

/** VectorTA's published last five outputs for period 20 on the close column (1e-12 apart). */
export const PARITY_LAST_FIVE = [
  -0.19724678008015128, -0.1238001236481444, -0.10515389737087717, -0.1149541079904878, -0.16006869484450567,
]

/** The close column (`2`) of the parity file. */
export function parityCloses() {
  const rows = parse(readFileSync(PARITY_CSV), { columns: true })
  return Float64Array.from(rows, (r) => Number(r['2']))
}

/**
 * TrendFlex straight from shared/TRENDFLEX.md, with the lag sum recomputed at every step and no
 * fused multiply-add (JS has none): equal to the kernels up to rounding, not bit for bit.
 */
export function oracle(x, period) {
  const out = new Float64Array(x.length).fill(NaN)
  const first = x.findIndex((v) => !Number.isNaN(v))
  if (first < 0) return out
  const y = x.subarray(first)
  const ss = Math.round(period / 2)
  const k = (1.414 * Math.PI) / ss
  const a = Math.exp(-k)
  const a2 = a * a
  const b = 2 * a * Math.cos(k)
  const c = (1 + a2 - b) / 2
  const s = new Float64Array(y.length)
  for (let i = 0; i < y.length; i++) s[i] = i < 2 ? y[i] : -a2 * s[i - 2] + (b * s[i - 1] + c * (y[i] + y[i - 1]))
  let ms = 0
  for (let i = period; i < y.length; i++) {
    let lag = 0
    for (let d = 1; d <= period; d++) lag += s[i] - s[i - d]
    const mysum = lag / period
    ms = 0.04 * mysum * mysum + 0.96 * ms
    out[first + i] = ms !== 0 ? mysum / Math.sqrt(ms) : 0
  }
  return out
}

/** A seeded random walk from 100 (mulberry32 steps in [-1, 1)). */
export function randomWalk(n, seed = 1) {
  let t = seed >>> 0
  const next = () => {
    t = (t + 0x6d2b79f5) >>> 0
    let r = Math.imul(t ^ (t >>> 15), 1 | t)
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296
  }
  const x = new Float64Array(n)
  let p = 100
  for (let i = 0; i < n; i++) x[i] = p += next() * 2 - 1
  return x
}

/** Index of the first value whose bits differ (NaNs count as equal whatever the payload), or -1. */
export function firstDifference(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length)
  const ua = new BigUint64Array(a.buffer, a.byteOffset, a.length)
  const ub = new BigUint64Array(b.buffer, b.byteOffset, b.length)
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i
  }
  return -1
}
