// Arrow columns over existing memory: a Float64 column viewing a result buffer (no copy), with a
// validity bitmap for the rows that have no value.
import * as arrow from 'apache-arrow'

/** Bytes of a validity bitmap for `rows` rows: whole 64-bit words, as Arrow pads them. */
export function bitmapBytes(rows: number): number {
  return ((rows + 63) >> 6) << 3
}

/**
 * Writes into `bitmap` (LSB first, 1 = valid) the validity of `length` rows of which only
 * `[from, to)` hold values, and returns the null count; returns 0 and leaves `bitmap` alone
 * when every row is valid. Whole bytes are filled natively, never bit by bit.
 */
export function fillValidity(bitmap: Uint8Array, length: number, from: number, to: number): number {
  const a = Math.max(0, Math.min(length, from))
  const b = Math.max(a, Math.min(length, to))
  if (a === 0 && b === length) return 0
  bitmap.fill(0, 0, bitmapBytes(length))
  const firstFull = (a + 7) >> 3
  const lastFull = b >> 3
  if (firstFull < lastFull) {
    bitmap.fill(0xff, firstFull, lastFull)
    for (let i = a; i < firstFull << 3; i++) bitmap[i >> 3]! |= 1 << (i & 7)
    for (let i = lastFull << 3; i < b; i++) bitmap[i >> 3]! |= 1 << (i & 7)
  } else {
    for (let i = a; i < b; i++) bitmap[i >> 3]! |= 1 << (i & 7)
  }
  return length - (b - a)
}

/** A nullable Float64 column viewing `values` (no copy); only rows `[from, to)` are valid, the
 * validity going into `bitmap` when some row is not. */
export function float64Data(values: Float64Array, from: number, to: number, bitmap: Uint8Array): arrow.Data<arrow.Float64> {
  const nullCount = fillValidity(bitmap, values.length, from, to)
  return arrow.makeData({
    type: new arrow.Float64(),
    length: values.length,
    data: values,
    nullBitmap: nullCount ? bitmap.subarray(0, bitmapBytes(values.length)) : undefined,
    nullCount,
  })
}
