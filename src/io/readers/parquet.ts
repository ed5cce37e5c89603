// Parquet input with parquet-wasm: the schema first, then row group by row group, only the
// columns needed.
import * as arrow from 'apache-arrow'
import * as pw from 'parquet-wasm'

import { dataError } from '../../errors.js'
import { matchColumn } from '../match.js'
import type { InputChunk, InputSource } from './source.js'

/** A numeric Arrow vector as Float64Array; nulls become NaN. */
function toFloat64(vector: arrow.Vector, column: string): Float64Array {
  const t = vector.type
  const numeric = arrow.DataType.isInt(t) || (arrow.DataType.isFloat(t) && t.precision !== arrow.Precision.HALF)
  if (!numeric) throw dataError(`column ${column} has type ${t}, not an integer or floating type`)
  const out = new Float64Array(vector.length)
  let pos = 0
  for (const d of vector.data) {
    const values = d.values as Float64Array | Float32Array | Int32Array | BigInt64Array
    const o = d.offset
    if (values instanceof Float64Array) out.set(values.subarray(o, o + d.length), pos)
    else if (values instanceof BigInt64Array || values instanceof BigUint64Array) for (let j = 0; j < d.length; j++) out[pos + j] = Number(values[o + j])
    else for (let j = 0; j < d.length; j++) out[pos + j] = values[o + j] as number
    if (d.nullCount > 0) for (let j = 0; j < d.length; j++) if (!d.getValid(j)) out[pos + j] = NaN
    pos += d.length
  }
  return out
}

/** A Parquet input: column lookup from the schema, then row group by row group. */
export async function openParquet(blob: Blob, name: string, column: string, keep: string[]): Promise<InputSource> {
  let file: pw.ParquetFile
  try {
    file = await pw.ParquetFile.fromFile(blob)
  } catch (error) {
    throw dataError(`${name}: not a readable Parquet file (${(error as Error).message})`)
  }
  const schema = arrow.tableFromIPC(file.schema().intoIPCStream()).schema // consumes the wasm schema
  const names = schema.fields.map((f) => f.name)
  const price = matchColumn(names, column, name)
  const keepNames = keep.map((k) => matchColumn(names, k, name))
  const metadata = file.metadata()
  const groups = metadata.numRowGroups()
  const totalRows = metadata.fileMetadata().numRows()
  const priceField = schema.fields[names.indexOf(price)]!
  if (!arrow.DataType.isInt(priceField.type) && !arrow.DataType.isFloat(priceField.type)) {
    throw dataError(`${name}: column ${price} has type ${priceField.type}, not an integer or floating type`)
  }
  return {
    format: 'parquet',
    name,
    column: price,
    keep: keepNames,
    totalRows,
    async *chunks(rows: number): AsyncGenerator<InputChunk> {
      let firstRow = 0
      try {
        for (let g = 0; g < groups; g++) {
          const groupRows = metadata.rowGroup(g).numRows()
          const read = await file.read({ columns: [price, ...keepNames.filter((k) => k !== price)], rowGroups: [g], batchSize: Math.max(1, groupRows) })
          const table = arrow.tableFromIPC(read.intoIPCStream()) // consumes `read`
          const prices = toFloat64(table.getChild(price)!, price)
          const keepVectors = keepNames.map((k) => table.getChild(k)!)
          for (let at = 0; at < prices.length; at += rows) {
            const end = Math.min(prices.length, at + rows)
            const start = firstRow
            yield {
              prices: prices.subarray(at, end),
              keep: keepVectors.map((v) => oneData(v.slice(at, end))),
              firstRow: start,
              where: (i: number) => `row ${start + i + 1}`,
            }
            firstRow += end - at
          }
        }
      } finally {
        file.free()
      }
    },
  }
}

/** A vector's rows as one Data (a row group read in one batch is one piece already). */
function oneData(v: arrow.Vector): arrow.Data {
  return v.data.length === 1 ? v.data[0]! : arrow.makeVector(v.toArray()).data[0]!
}
