// CSV input: bytes from a file, gzip or stdin are fed to the addon's streaming parser (Rust,
// csv-core), which checks prices, types the `--keep` columns and hands them over as Arrow
// buffers, so no JS runs per value.
import type { Readable } from 'node:stream'

import * as arrow from 'apache-arrow'

import type { KeepColumnData } from '../../../native/node/binding.cjs'
import { dataError } from '../../errors.js'
import { native } from '../../native.js'
import type { InputChunk, InputOptions, InputSource } from './source.js'

/** A CSV source: reads until the header is known, then yields chunks of parsed rows. */
export async function openCsv(bytes: Readable, name: string, options: InputOptions, counting?: Promise<number>): Promise<InputSource> {
  const reader = new (native().CsvReader)(options.column, options.keep, undefined)
  const it = bytes[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  let ended = false
  let pending = 0 // parsed rows not yet taken
  const fail = (error: unknown): never => {
    const e = error as { code?: string; message?: string }
    if (e?.code === 'ERR_CSV') throw dataError(`${name}: ${e.message}`)
    if (e?.code === 'Z_DATA_ERROR' || e?.code === 'Z_BUF_ERROR') throw dataError(`${name}: not valid gzip data (${e.message})`)
    throw error
  }
  /** Feeds the next piece of input; false at the end. */
  const pump = async (): Promise<boolean> => {
    if (ended) return false
    try {
      const r = await it.next()
      if (r.done) {
        pending = reader.end()
        ended = true
        return false
      }
      pending = reader.feed(r.value)
      return true
    } catch (error) {
      return fail(error)
    }
  }
  /** Moves parsed rows out; throws the reader's error once every row before it is out. */
  const take = (buffer: Float64Array) => {
    try {
      return reader.take(buffer)
    } catch (error) {
      return fail(error)
    }
  }
  while (reader.column == null && (await pump()));
  if (reader.column == null) throw dataError(`${name}: empty input (no header line)`)
  const totalRows = await counting?.catch(() => undefined)
  return {
    format: 'csv',
    name,
    totalRows,
    column: reader.column,
    keep: reader.keepColumns ?? [],
    async *chunks(rows: number): AsyncGenerator<InputChunk> {
      const buffer = new Float64Array(rows)
      let firstRow = 0
      for (;;) {
        while (pending < rows && (await pump()));
        const taken = take(buffer)
        // The reader may have dropped rows it found bad while typing the keep columns.
        pending = Math.max(0, pending - taken.rows)
        if (taken.rows === 0) return
        const lines = taken.lines
        yield {
          prices: buffer.subarray(0, taken.rows),
          keep: taken.keep.map((column) => keepData(column, taken.rows)),
          firstRow,
          where: (i: number) => `line ${lines[i]}`,
        }
        firstRow += taken.rows
      }
    },
  }
}

/** A `--keep` column of one take as Arrow data over the buffers the reader built (no copy). */
function keepData(column: KeepColumnData, length: number): arrow.Data {
  const { validity: nullBitmap, nullCount } = column
  if (column.kind === 'int64' && column.int64) {
    return arrow.makeData({ type: new arrow.Int64(), length, data: column.int64, nullBitmap, nullCount })
  }
  if (column.kind === 'float64' && column.float64) {
    return arrow.makeData({ type: new arrow.Float64(), length, data: column.float64, nullBitmap, nullCount })
  }
  if (column.kind === 'utf8' && column.offsets && column.bytes) {
    return arrow.makeData({ type: new arrow.Utf8(), length, valueOffsets: column.offsets, data: column.bytes, nullBitmap, nullCount })
  }
  throw new Error(`internal: a '${column.kind}' keep column without its buffers`)
}
