// Arrow columns for the output: result columns over the kernel's own buffers (no copy), with a
// validity bitmap for missing rows, and the text of a cell for CSV output.
import * as arrow from 'apache-arrow'

/**
 * Bitmap (LSB first, 1 = valid) for `length` rows of which only `[from, to)` are valid, or
 * undefined when every row is valid.
 */
export function validRange(length: number, from: number, to: number): Uint8Array | undefined {
  const a = Math.max(0, Math.min(length, from))
  const b = Math.max(a, Math.min(length, to))
  if (a === 0 && b === length) return undefined
  const bitmap = new Uint8Array(((length + 63) >> 6) << 3)
  for (let i = a; i < b; ) {
    if ((i & 7) === 0 && i + 8 <= b) {
      bitmap[i >> 3] = 0xff
      i += 8
    } else {
      bitmap[i >> 3]! |= 1 << (i & 7)
      i++
    }
  }
  return bitmap
}

/** A Float64 column viewing `values` (no copy); rows outside `[from, to)` are null. */
export function float64Data(values: Float64Array, from: number, to: number): arrow.Data<arrow.Float64> {
  const nullBitmap = validRange(values.length, from, to)
  const valid = Math.max(0, Math.min(values.length, to) - Math.max(0, from))
  return arrow.makeData({
    type: new arrow.Float64(),
    length: values.length,
    data: values,
    nullBitmap,
    nullCount: nullBitmap ? values.length - valid : 0,
  })
}

/** Text of row `i` of an Arrow column, for CSV output (empty for null). */
export function cellText(vector: arrow.Vector, i: number): string {
  const v = vector.get(i)
  if (v === null || v === undefined) return ''
  if (typeof v === 'string') return csvQuote(v)
  if (v instanceof Date) return v.toISOString()
  return String(v)
}

/** Quotes a CSV field when it needs it (RFC 4180). */
export function csvQuote(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
