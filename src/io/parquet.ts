// Parquet in and out with parquet-wasm (Rust's parquet crate compiled to wasm) and apache-arrow.
// Reading goes row group by row group, one column set at a time. Writing streams one record
// batch per chunk through parquet-wasm's streaming writer; each batch is copied into wasm memory
// inside `pull()`, so the caller may refill its buffers as soon as the next pull asks for more.
import { promises as fs, openAsBlob } from 'node:fs'

import * as arrow from 'apache-arrow'
import { parseRecordBatch } from 'arrow-js-ffi'
import * as pw from 'parquet-wasm'

import { dataError } from '../core/errors.js'
import { stopwatch } from '../core/timings.js'
import type { InputChunk, InputSource } from './input.js'
import { matchColumn } from './match.js'
import { WriteBehind } from './output.js'
import type { Compression } from './parquet-options.js'

export type { Compression } from './parquet-options.js'

const CODEC: Record<Compression, pw.Compression> = {
  zstd: pw.Compression.ZSTD,
  snappy: pw.Compression.SNAPPY,
  lz4: pw.Compression.LZ4_RAW,
  none: pw.Compression.UNCOMPRESSED,
}

export interface ParquetWriteOptions {
  compression: Compression
  /** Float columns written with BYTE_STREAM_SPLIT (the results); others keep the default. */
  floatColumns: string[]
  /** Key-value metadata for the file footer. */
  metadata: Record<string, string>
  /** Rows per row group (the chunk size). */
  rowGroupRows: number
}

function writerProperties(o: ParquetWriteOptions): pw.WriterProperties {
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(CODEC[o.compression])
    .setDictionaryEnabled(false)
    .setMaxRowGroupSize(o.rowGroupRows)
    .setKeyValueMetadata(new Map(Object.entries(o.metadata)))
  // Per column: BYTE_STREAM_SPLIT on a string column would abort the writer.
  for (const name of o.floatColumns) b = b.setColumnEncoding(name, pw.Encoding.BYTE_STREAM_SPLIT)
  return b.build()
}

/**
 * Serialises record batches to Arrow IPC into one growing buffer reused for every batch
 * (`tableToIPC` allocates a fresh buffer of the batch's size each time).
 */
class ReusableIpcSink extends arrow.AsyncByteQueue {
  #buf = new Uint8Array(1 << 20)
  #pos = 0

  override write(value: ArrayBufferView | Uint8Array): void {
    const v = value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    if (this.#pos + v.byteLength > this.#buf.byteLength) {
      const grown = new Uint8Array(Math.max(this.#buf.byteLength * 2, this.#pos + v.byteLength))
      grown.set(this.#buf.subarray(0, this.#pos))
      this.#buf = grown
    }
    this.#buf.set(v, this.#pos)
    this.#pos += v.byteLength
  }

  override close(): void {}

  /** One batch as a complete IPC stream; the view is valid until the next call. */
  serialize(batch: arrow.RecordBatch): Uint8Array {
    this.#pos = 0
    const writer = new arrow.RecordBatchStreamWriter()
    writer.reset(this as unknown as arrow.WritableSink<Uint8Array>)
    writer.write(batch)
    writer.finish()
    return this.#buf.subarray(0, this.#pos)
  }
}

/** A column whose rows are one typed-array element each, with no nulls (it can be copied into a
 * wasm buffer as is). */
function plainColumn(d: arrow.Data): boolean {
  const t = d.type
  const fixed = arrow.DataType.isInt(t) || arrow.DataType.isFloat(t) || arrow.DataType.isTimestamp(t) || arrow.DataType.isDate(t) || arrow.DataType.isTime(t) || arrow.DataType.isDuration(t)
  return fixed && d.nullCount === 0 && d.stride === 1 && ArrayBuffer.isView(d.values) && d.children.length === 0
}

/**
 * Moves JS record batches into wasm memory for the writer.
 *
 * The general way is an Arrow IPC round trip: serialise, then `Table.fromIPCStream`, which copies
 * the bytes into wasm memory and then again into arrow-rs buffers (measured: ~1.4 s for 1M rows x
 * 227 periods, a fifth of the encoding time). Most batches are plain (fixed-width columns, no
 * nulls), so instead one wasm batch, the template, is made that way once and then refilled: its
 * buffers, viewed from JS through the Arrow C data interface (arrow-js-ffi), get the next batch's
 * values by one memcpy per column, and the writer is handed a zero-copy slice of it.
 *
 * Refilling is safe because the writer holds a batch only while encoding it: parquet-wasm pulls
 * the next batch after `write()` of the previous one returned, and arrow-rs copies values into its
 * page encoders inside `write()`. The caller promises that no other template slice is still
 * unconsumed (`reuse = true` only when the batch goes to the writer at once, not held back).
 * test/commands.test.js checks every row group of multi-chunk outputs against the definition.
 */
class WasmBatches {
  readonly #sink = new ReusableIpcSink()
  #template: pw.RecordBatch | undefined
  #ffi: pw.FFIData | undefined
  #views: arrow.RecordBatch | undefined

  /** The batch in wasm memory (after this, its JS buffers may be reused). */
  take(batch: arrow.RecordBatch, reuse: boolean): pw.RecordBatch {
    const columns = batch.data.children
    if (!reuse || !columns.every(plainColumn)) return this.#viaIpc(batch)
    if (!this.#fits(batch)) {
      this.free()
      this.#template = this.#viaIpc(batch)
      this.#ffi = this.#template.toFFI()
      return this.#template.slice(0, batch.numRows)
    }
    const views = this.#currentViews()
    columns.forEach((d, i) => {
      const target = views.data.children[i]!.values as Float64Array
      target.set(d.values.subarray(d.offset, d.offset + d.length) as never)
    })
    return this.#template!.slice(0, batch.numRows)
  }

  /** A template exists, is as long as `batch` at least, and has its column types. */
  #fits(batch: arrow.RecordBatch): boolean {
    if (!this.#template || batch.numRows > this.#template.numRows) return false
    const views = this.#currentViews()
    return batch.schema.fields.every((f, i) => {
      const v = views.data.children[i]
      return v !== undefined && arrow.util.compareTypes(f.type, v.type) && v.values.constructor === batch.data.children[i]!.values.constructor
    })
  }

  /** JS views of the template's buffers; made again when wasm memory grew (which detaches them). */
  #currentViews(): arrow.RecordBatch {
    const memory = pw.wasmMemory().buffer
    if (!this.#views || (this.#views.data.children[0]?.values.buffer ?? memory) !== memory) {
      this.#views = parseRecordBatch(memory, this.#ffi!.arrayAddr(), this.#ffi!.schemaAddr(), false)
    }
    return this.#views!
  }

  #viaIpc(batch: arrow.RecordBatch): pw.RecordBatch {
    const table = pw.Table.fromIPCStream(this.#sink.serialize(batch))
    const batches = table.recordBatches()
    table.free()
    if (batches.length !== 1) throw new Error(`internal: expected one record batch, got ${batches.length}`)
    return batches[0]!
  }

  free(): void {
    this.#views = undefined
    this.#ffi?.free()
    this.#template?.free()
    this.#ffi = this.#template = undefined
  }
}

/**
 * Streams `batches` into a Parquet file at `path` (or to `stdout`), one row group per batch.
 * `next()` is called only when the writer asks for the next batch, and the following one is
 * requested right after, so it can be computed while this one is encoded.
 */
export async function writeParquet(
  target: { path: string } | { stdout: NodeJS.WriteStream },
  next: () => Promise<arrow.RecordBatch | undefined>,
  options: ParquetWriteOptions,
  established: () => boolean,
  onWritten?: (rows: number) => void,
): Promise<{ rows: number; bytes: number }> {
  const ingest = new WasmBatches()
  let rows = 0
  let failure: { error: unknown } | undefined
  let prefetch: Promise<arrow.RecordBatch | undefined> | undefined
  const held: pw.RecordBatch[] = []
  const source = new ReadableStream<pw.RecordBatch>(
    {
      async pull(controller) {
        // The writer keeps pulling after its output failed: stop producing then.
        if (failure) return controller.close()
        try {
          // Batches are held (already copied into wasm memory) until `established()`, so a
          // run that fails for lack of data writes nothing, even to stdout.
          for (;;) {
            const waiting = stopwatch('writer_waits_for_batch')
            const batch = await (prefetch ?? next())
            waiting()
            prefetch = undefined
            if (!batch) {
              held.forEach((b) => controller.enqueue(b))
              return controller.close()
            }
            const copying = stopwatch('copy_to_wasm')
            const ready = established()
            held.push(ingest.take(batch, ready && held.length === 0))
            copying()
            rows += batch.numRows
            prefetch = next()
            prefetch.catch(() => {}) // reported when awaited
            if (ready) break
          }
          held.splice(0).forEach((b) => controller.enqueue(b))
          onWritten?.(rows)
        } catch (error) {
          failure ??= { error }
          controller.close()
        }
      },
    },
    { highWaterMark: 0 },
  )
  // A failure in the first pull surfaces from here as parquet-wasm's own "Dyn casting error":
  // report the real cause instead.
  const encoded = await pw.transformParquetStream(source, writerProperties(options)).catch((error: unknown) => {
    throw failure ? failure.error : error
  })
  let bytes = 0
  if ('path' in target) {
    const fh = await fs.open(target.path, 'w')
    const file = new WriteBehind(fh)
    try {
      for await (const chunk of encoded as unknown as AsyncIterable<Uint8Array>) {
        checkSize(bytes + chunk.byteLength)
        await file.write(chunk)
        bytes += chunk.byteLength
      }
      await file.flush()
    } catch (error) {
      failure ??= { error }
    } finally {
      await file.flush().catch(() => {}) // no write may still run when the handle closes
      await fh.close()
    }
  } else {
    for await (const chunk of encoded as unknown as AsyncIterable<Uint8Array>) {
      checkSize(bytes + chunk.byteLength)
      if (!target.stdout.write(chunk)) await new Promise((resolve) => target.stdout.once('drain', resolve))
      bytes += chunk.byteLength
    }
  }
  ingest.free()
  if (failure) throw failure.error
  return { rows, bytes }
}

/** parquet-wasm is 32-bit: past 4 GiB its file offsets wrap and the footer it writes is corrupt
 * (measured: a 5.07 GB file whose last row group is recorded at its offset minus 2^32). */
export const PARQUET_WASM_MAX_BYTES = 2 ** 32

function checkSize(bytes: number): void {
  if (bytes >= PARQUET_WASM_MAX_BYTES) {
    throw dataError(
      'the Parquet output reached 4 GiB, beyond what parquet-wasm (32-bit) can address: the file would be corrupt. ' +
        'Split the period grid over several runs, or write --format csv; nothing was saved',
    )
  }
}

/** Reads the footer of a written file and checks its row count (the streaming writer does not
 * report write errors, so success is only claimed after this). */
export async function verifyParquet(path: string, rows: number): Promise<void> {
  let numRows: number
  try {
    const file = await pw.ParquetFile.fromFile(await openAsBlob(path))
    numRows = file.metadata().fileMetadata().numRows()
    file.free()
  } catch (error) {
    throw dataError(`the Parquet file written is unreadable (${(error as Error).message}); nothing was saved`)
  }
  if (numRows !== rows) throw dataError(`the Parquet file written holds ${numRows} rows, expected ${rows}; nothing was saved`)
}

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
              keep: keepVectors.map((v) => v.slice(at, end)),
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
