// Arrow types by name, as they cross to and from the addon (`float64`, `int64`, `utf8`, `bool`,
// `date32`, `timestamp[ms]`, `timestamp[us, UTC]`, `decimal128(10, 2)`, ...). The addon's
// `types.rs` is the other side.
import * as arrow from 'apache-arrow'

import type { ColumnBuffers } from '../../native/node/binding.cjs'

const UNITS = ['s', 'ms', 'us', 'ns']

/** The addon's name for an Arrow JS type, or undefined when the addon does not take it. */
export function typeName(t: arrow.DataType): string | undefined {
  if (arrow.DataType.isInt(t)) return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`
  if (arrow.DataType.isFloat(t)) return t.precision === arrow.Precision.DOUBLE ? 'float64' : t.precision === arrow.Precision.SINGLE ? 'float32' : undefined
  if (arrow.DataType.isUtf8(t)) return 'utf8'
  if (arrow.DataType.isBinary(t)) return 'binary'
  if (arrow.DataType.isBool(t)) return 'bool'
  if (arrow.DataType.isDate(t)) return t.unit === arrow.DateUnit.DAY ? 'date32' : 'date64'
  if (arrow.DataType.isTimestamp(t)) return `timestamp[${UNITS[t.unit]}${t.timezone ? `, ${t.timezone}` : ''}]`
  if (arrow.DataType.isTime(t)) return `time${t.bitWidth}[${UNITS[t.unit]}]`
  if (arrow.DataType.isDuration(t)) return `duration[${UNITS[t.unit]}]`
  if (arrow.DataType.isDecimal(t) && t.bitWidth === 128) return `decimal128(${t.precision}, ${t.scale})`
  return undefined
}

/** The Arrow JS type of an addon type name. */
export function typeFromName(name: string): arrow.DataType {
  const simple: Record<string, () => arrow.DataType> = {
    float64: () => new arrow.Float64(),
    float32: () => new arrow.Float32(),
    int8: () => new arrow.Int8(),
    int16: () => new arrow.Int16(),
    int32: () => new arrow.Int32(),
    int64: () => new arrow.Int64(),
    uint8: () => new arrow.Uint8(),
    uint16: () => new arrow.Uint16(),
    uint32: () => new arrow.Uint32(),
    uint64: () => new arrow.Uint64(),
    utf8: () => new arrow.Utf8(),
    binary: () => new arrow.Binary(),
    bool: () => new arrow.Bool(),
    date32: () => new arrow.DateDay(),
    date64: () => new arrow.DateMillisecond(),
  }
  if (simple[name]) return simple[name]!()
  const unit = (u: string) => UNITS.indexOf(u.trim()) as arrow.TimeUnit
  let m = /^timestamp\[(\w+)(?:, (.+))?\]$/.exec(name)
  if (m) return new arrow.Timestamp(unit(m[1]!), m[2] ?? null)
  m = /^time(32|64)\[(\w+)\]$/.exec(name)
  if (m) return new arrow.Time(unit(m[2]!), Number(m[1]) as 32 | 64)
  m = /^duration\[(\w+)\]$/.exec(name)
  if (m) return new arrow.Duration(unit(m[1]!))
  m = /^decimal128\((\d+), (-?\d+)\)$/.exec(name)
  if (m) return new arrow.Decimal(Number(m[2]), Number(m[1]), 128)
  throw new Error(`internal: unknown type name '${name}'`)
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/** One column's Arrow buffers, as the addon takes them: views, never copies. */
export function columnBuffers(d: arrow.Data): ColumnBuffers {
  const c: ColumnBuffers = { values: bytes(d.values), validityOffset: d.offset }
  if (d.nullCount > 0 && d.nullBitmap && d.nullBitmap.byteLength > 0) c.validity = d.nullBitmap
  if (d.valueOffsets) c.offsets = bytes(d.valueOffsets)
  if (arrow.DataType.isBool(d.type)) c.valuesOffset = d.offset
  return c
}
