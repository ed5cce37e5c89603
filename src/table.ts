// The batch as an Apache Arrow table: one nullable Float64 column per period, each a view of the
// result memory (a period's row of the row-major result is one contiguous column), so nothing is
// copied; a validity bitmap marks the rows with no value.
import * as arrow from 'apache-arrow'

import { type BatchOptions, type Periods, distinctPeriods, expandPeriods, trendflexBatch } from './compute.js'
import { bitmapBytes, float64Data } from './io/columns.js'
import { native } from './native.js'

/**
 * {@link trendflexBatch} as an Apache Arrow `Table` with columns `trendflex_<p>` in period order.
 * The columns view the result values without copying (`options.out`, when given, becomes the
 * table's memory). Warm-up rows (before the first valid price plus the period) and rows from an
 * interior missing price on are null.
 *
 * @example
 * const t = trendflexBatchTable(closes, {start: 5, end: 231})
 * t.getChild('trendflex_20')?.get(100)
 */
export function trendflexBatchTable(prices: Float64Array, periods: Periods, options: BatchOptions = {}): arrow.Table {
  const list = distinctPeriods(expandPeriods(periods))
  const { values } = trendflexBatch(prices, list, options)
  const n = prices.length
  const [first, end] = native().priceSpan(prices) as [number, number]
  const columns: Record<string, arrow.Vector<arrow.Float64>> = {}
  list.forEach((p, r) => {
    const data = float64Data(values.subarray(r * n, (r + 1) * n), first + p, end, new Uint8Array(bitmapBytes(n)))
    columns[`trendflex_${p}`] = arrow.makeVector(data)
  })
  return new arrow.Table(columns)
}
