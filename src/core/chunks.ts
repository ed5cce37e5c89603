// The result buffers of the job, allocated once: two chunk slots (the kernel fills one while the
// writer encodes the other), each an Arrow record batch in the making: one Float64 column per
// period over the kernel's own output, a validity bitmap where warm-up or a gap leaves no value.
import * as arrow from 'apache-arrow'

import { bitmapBytes } from '../io/columns.js'

export class ResultSlot {
  /** Kernel output, row-major: period r's values of an n-row chunk at `[r * n, (r + 1) * n)`. */
  readonly values: Float64Array
  /** Validity bitmaps, one per period, `stride` bytes apart. */
  readonly validity: Uint8Array
  readonly stride: number

  constructor(rows: number, periods: number) {
    this.values = new Float64Array(rows * periods)
    this.stride = bitmapBytes(rows)
    this.validity = new Uint8Array(this.stride * periods)
  }

  /** The output of one chunk as a record batch: `keep` columns, then the results of `n` rows,
   * their validity in the slot's bitmaps (`nullCounts` per period). */
  batch(schema: arrow.Schema, keep: arrow.Data[], nullCounts: number[], n: number): arrow.RecordBatch {
    const results = nullCounts.map((nullCount, r) =>
      arrow.makeData({
        type: new arrow.Float64(),
        length: n,
        data: this.values.subarray(r * n, (r + 1) * n),
        nullBitmap: nullCount ? this.validity.subarray(r * this.stride, (r + 1) * this.stride) : undefined,
        nullCount,
      }),
    )
    return record(schema, keep, results, n)
  }
}

function record(schema: arrow.Schema, keep: arrow.Data[], results: arrow.Data[], n: number): arrow.RecordBatch {
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: [...keep, ...results] })
  return new arrow.RecordBatch(schema, data)
}

/** The output schema: the keep columns with the types their first chunk has, then one nullable
 * Float64 column per period. */
export function outputSchema(keepNames: string[], keep: { type: arrow.DataType }[], resultNames: string[]): arrow.Schema {
  return new arrow.Schema([
    ...keepNames.map((name, i) => new arrow.Field(name, keep[i]!.type, true)),
    ...resultNames.map((name) => new arrow.Field(name, new arrow.Float64(), true)),
  ])
}
