// Opening the input: a .csv / .csv.gz / .parquet path, or stdin ('-'); when the name does not
// tell, the format is sniffed (Parquet starts with PAR1, gzip with 1f 8b). CSV is streamed
// through the addon's parser (Rust csv-core), which also types the `--keep` columns and hands
// them over as Arrow buffers; Parquet is read row group by row group (from stdin it must be
// buffered first: its footer is at the end).
import { createReadStream, openAsBlob, promises as fs } from 'node:fs'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'

import * as arrow from 'apache-arrow'

import type { KeepColumnData } from '../../native/node/binding.cjs'
import { dataError } from '../core/errors.js'
import { native } from '../native.js'
import { openParquet } from './parquet.js'

export interface InputChunk {
  /** This chunk's prices, NaN where missing (valid until the next chunk is requested). */
  prices: Float64Array
  /** The `--keep` columns for these rows. */
  keep: arrow.Vector[]
  /** Index of the chunk's first row in the whole input. */
  firstRow: number
  /** Where row `i` of the chunk came from, for messages ("line 1234", "row 1234"). */
  where(i: number): string
}

export interface InputSource {
  readonly format: 'csv' | 'parquet'
  /** File name, or "stdin". */
  readonly name: string
  /** The matched price column. */
  readonly column: string
  /** The matched keep columns. */
  readonly keep: string[]
  /** Rows in the input, when known before reading it all. */
  readonly totalRows?: number
  chunks(rows: number): AsyncGenerator<InputChunk>
}

export interface InputOptions {
  column: string
  keep: string[]
}

type Kind = 'csv' | 'csv.gz' | 'parquet'

function kindFromName(path: string): Kind | undefined {
  const p = path.toLowerCase()
  if (p.endsWith('.parquet') || p.endsWith('.pq')) return 'parquet'
  if (p.endsWith('.csv.gz') || p.endsWith('.tsv.gz')) return 'csv.gz'
  if (p.endsWith('.csv') || p.endsWith('.tsv') || p.endsWith('.txt')) return 'csv'
  return undefined
}

function kindFromBytes(head: Uint8Array): Kind {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) return 'parquet'
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'csv.gz'
  return 'csv'
}

/** Opens `path` ('-' = stdin) as a price source. */
export async function openInput(path: string, options: InputOptions): Promise<InputSource> {
  if (path === '-') return openStdin(options)
  const st = await fs.stat(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? dataError(`${path}: no such file`) : error
  })
  if (st.isDirectory()) throw dataError(`${path}: is a directory, not a price file`)
  let kind = kindFromName(path)
  if (!kind) {
    const fh = await fs.open(path, 'r')
    const head = new Uint8Array(4)
    await fh.read(head, 0, 4, 0).finally(() => fh.close())
    kind = kindFromBytes(head)
  }
  if (kind === 'parquet') {
    if (st.size < 12) throw dataError(`${path}: too short to be a Parquet file (${st.size} bytes)`)
    return openParquet(await openAsBlob(path), path, options.column, options.keep)
  }
  let bytes: Readable = createReadStream(path, { highWaterMark: 1 << 20 })
  if (kind === 'csv.gz') bytes = bytes.pipe(createGunzip())
  // The record count, for the Parquet metadata and progress totals, is taken off the main
  // thread while the header is read (plain files only: gzip would be decompressed twice).
  const counting = kind === 'csv' ? native().countCsvFile(path, undefined) : undefined
  counting?.catch(() => {}) // a read error is reported by the stream itself
  return openCsv(bytes, path, options, counting)
}

async function openStdin(options: InputOptions): Promise<InputSource> {
  const it = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const first = await it.next()
  const head: Buffer = first.done ? Buffer.alloc(0) : first.value
  const kind = kindFromBytes(head)
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value
  }
  if (kind === 'parquet') {
    const parts: Buffer[] = []
    for await (const b of rest()) parts.push(b)
    return openParquet(new Blob(parts as unknown as BlobPart[]), 'stdin', options.column, options.keep)
  }
  let bytes: Readable = Readable.from(rest(), { objectMode: false })
  if (kind === 'csv.gz') bytes = bytes.pipe(createGunzip())
  return openCsv(bytes, 'stdin', options)
}

/** A CSV source: reads until the header is known, then yields chunks of parsed rows. */
async function openCsv(bytes: Readable, name: string, options: InputOptions, counting?: Promise<number>): Promise<InputSource> {
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
        const start = firstRow
        const lines = taken.lines
        const where = (i: number) => `line ${lines[i]}`
        yield {
          prices: buffer.subarray(0, taken.rows),
          keep: taken.keep.map((column) => keepVector(column, taken.rows)),
          firstRow: start,
          where,
        }
        firstRow += taken.rows
      }
    },
  }
}

/**
 * A `--keep` column of one take as an Arrow vector over the buffers the reader built (no copy,
 * no JS value per row). Its type was decided by the reader from the first rows.
 */
function keepVector(column: KeepColumnData, length: number): arrow.Vector {
  const { validity: nullBitmap, nullCount } = column
  if (column.kind === 'int64' && column.int64) {
    return arrow.makeVector(arrow.makeData({ type: new arrow.Int64(), length, data: column.int64, nullBitmap, nullCount }))
  }
  if (column.kind === 'float64' && column.float64) {
    return arrow.makeVector(arrow.makeData({ type: new arrow.Float64(), length, data: column.float64, nullBitmap, nullCount }))
  }
  if (column.kind === 'utf8' && column.offsets && column.bytes) {
    return arrow.makeVector(
      arrow.makeData({ type: new arrow.Utf8(), length, valueOffsets: column.offsets, data: column.bytes, nullBitmap, nullCount }),
    )
  }
  throw new Error(`internal: a '${column.kind}' keep column without its buffers`)
}
