// Arrow columns for the output: result columns over the kernel's own buffers (no copy), with a
// validity bitmap for missing rows, and pass-through (`--keep`) columns typed once.
import * as arrow from 'apache-arrow'

import { dataError } from '../core/errors.js'

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

/**
 * A `--keep` column read from CSV text. Its type is decided from the first chunk (Int64 when every
 * value is an integer, Float64 when every value is a number, else Utf8; empty = null) and held for
 * the whole file, so every row group has one schema.
 */
export class TextKeepColumn {
  type: arrow.Int64 | arrow.Float64 | arrow.Utf8 | undefined

  constructor(readonly name: string) {}

  toData(values: string[], where: (i: number) => string): arrow.Data {
    this.type ??= inferType(values)
    const type = this.type
    if (type instanceof arrow.Utf8) return arrow.vectorFromArray(values.map((v) => (v === '' ? null : v)), type).data[0]!
    const nulls = new Uint8Array(((values.length + 63) >> 6) << 3)
    let nullCount = 0
    if (type instanceof arrow.Int64) {
      const data = new BigInt64Array(values.length)
      values.forEach((v, i) => {
        const t = v.trim()
        if (t === '') return nullCount++
        if (!INTEGER.test(t)) throw dataError(`${where(i)}, column ${this.name}: '${v}' is not an integer (the column was typed Int64 from its first rows)`)
        data[i] = BigInt(t)
        nulls[i >> 3]! |= 1 << (i & 7)
      })
      return arrow.makeData({ type, length: values.length, data, nullBitmap: nulls, nullCount })
    }
    const data = new Float64Array(values.length)
    values.forEach((v, i) => {
      const t = v.trim()
      if (t === '') return nullCount++
      const x = Number(t)
      if (Number.isNaN(x) && !/^nan$/i.test(t)) throw dataError(`${where(i)}, column ${this.name}: '${v}' is not a number (the column was typed Float64 from its first rows)`)
      data[i] = x
      nulls[i >> 3]! |= 1 << (i & 7)
    })
    return arrow.makeData({ type, length: values.length, data, nullBitmap: nulls, nullCount })
  }
}

const INTEGER = /^[+-]?\d{1,18}$/

function inferType(values: string[]): arrow.Int64 | arrow.Float64 | arrow.Utf8 {
  const present = values.map((v) => v.trim()).filter((v) => v !== '')
  if (present.length > 0 && present.every((v) => INTEGER.test(v))) return new arrow.Int64()
  if (present.length > 0 && present.every((v) => v !== '' && !Number.isNaN(Number(v)))) return new arrow.Float64()
  return new arrow.Utf8()
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
