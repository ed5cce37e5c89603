// `--gaps`: what a missing price after the first valid one means, tracked across chunks.
import { dataError } from '../errors.js'
import type { InputChunk } from '../io/readers/index.js'
import { native } from '../native.js'

export type Gaps = 'error' | 'propagate' | 'ffill'

/** Tracks what `--gaps` needs across chunks and applies it to each chunk's prices in place. */
export class GapPolicy {
  /** Row of the first valid price (-1 until seen). */
  firstValid = -1
  /** Row of the first missing price after it (propagate mode), or Infinity. */
  firstGap = Infinity
  #last = NaN

  constructor(readonly mode: Gaps) {}

  /** True once `rows` rows run more than `period` past the first valid price: from then on no
   * period can fail for lack of data (the core counts the same way), so output may start. */
  enough(rows: number, period: number): boolean {
    return this.firstValid >= 0 && rows - this.firstValid > period
  }

  /** Rows `[from, to)` (whole-input indices) where `period` has a value: after the warm-up and
   * before a propagated gap. The rest is null in Parquet and Arrow, empty in CSV. */
  validRows(period: number): [number, number] {
    return [this.firstValid < 0 ? Infinity : this.firstValid + period, this.firstGap]
  }

  apply(chunk: InputChunk): void {
    const p = chunk.prices
    // Most chunks have no missing price at all: one native scan says so, and where the first
    // one is.
    const [first, end] = native().priceSpan(p) as [number, number]
    if (end === p.length && (first === 0 || this.firstValid < 0)) {
      if (first < p.length) {
        if (this.firstValid < 0) this.firstValid = chunk.firstRow + first
        this.#last = p[p.length - 1]!
      }
      return
    }
    // Every price before `end` is valid when the series had started and the chunk starts valid.
    const from = this.firstValid >= 0 && first === 0 ? end : 0
    if (from > 0) this.#last = p[from - 1]!
    for (let i = from; i < p.length; i++) {
      const x = p[i]!
      if (!Number.isNaN(x)) {
        if (this.firstValid < 0) this.firstValid = chunk.firstRow + i
        this.#last = x
        continue
      }
      if (this.firstValid < 0) continue // leading missing prices are always fine
      if (this.mode === 'error') {
        throw dataError(`${chunk.where(i)}: missing price after the first valid one (--gaps error); use --gaps ffill to carry the last price forward, or --gaps propagate`)
      }
      if (this.mode === 'ffill') p[i] = this.#last
      else if (this.firstGap === Infinity) this.firstGap = chunk.firstRow + i
    }
  }
}
