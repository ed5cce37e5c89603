// `--gaps` as the job sees it: the addon applies the policy while reading (and names the line of
// a gap under `error`); what is left here is where values can exist, from the first valid price
// and the first propagated gap it reports.
export type { Gaps } from '../io/readers/source.js'

export class ValidRows {
  /** Row of the first valid price (-1 until seen). */
  firstValid = -1
  /** Row of the first missing price after it (propagate mode), or Infinity. */
  firstGap = Infinity

  /** Takes what a chunk reported. */
  update(chunk: { firstValid?: number; firstGap?: number }): void {
    if (chunk.firstValid !== undefined) this.firstValid = chunk.firstValid
    if (chunk.firstGap !== undefined) this.firstGap = chunk.firstGap
  }

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
}
