// One Writer for every output format: fed one Arrow record batch per chunk, it encodes in the
// addon straight from the batch's buffers (no copy, no JS per value) and writes to a Sink's
// descriptor. `write` resolves when the batch's buffers may be reused.
import { extname } from 'node:path'

import type * as arrow from 'apache-arrow'

import type { WriterOptions as NativeWriterOptions, WriteSummary } from '../../../native/node/binding.cjs'
import { native } from '../../native.js'
import { columnBuffers, typeName } from '../arrow-types.js'
import type { Sink } from '../sink.js'
import { arrowStream } from './arrow.js'
import { csv } from './csv.js'
import type { Format, FormatSpec } from './format.js'
import { type Compression, type FloatEncoding, parquet } from './parquet.js'

export type { Format, FormatSpec } from './format.js'
export { COMPRESSIONS, type Compression, FLOAT_ENCODINGS, type FloatEncoding } from './parquet.js'
export type { WriteSummary } from '../../../native/node/binding.cjs'

export const FORMATS: Record<Format, FormatSpec> = { parquet, csv, arrow: arrowStream }

/** The format an output name means, from its extension; undefined when it says none. */
export function formatFromName(path: string): Format | undefined {
  const ext = extname(path).toLowerCase()
  return Object.values(FORMATS).find((f) => f.extensions.includes(ext))?.name
}

export interface WriterOptions {
  compression: Compression
  floatEncoding: FloatEncoding
  /** Hold everything back until a write with `release` (streams: see Sink). */
  hold: boolean
  /** CSV and Arrow: each batch reaches the output before `write` resolves (`--follow`). */
  flush?: boolean
  /** Key-value metadata: Parquet's footer, Arrow's schema. */
  metadata: Record<string, string>
  /** Parquet's `created_by`. */
  createdBy: string
  /** Parquet: rows per row group, made of whole chunks. */
  rowGroupRows: number
  /** Parquet into `sink.dir`: a dataset with a folder per value of these columns. */
  partitionBy?: string[]
}

export interface Writer {
  readonly format: FormatSpec
  /** Encodes one chunk; `release`: output held back so far may go out. */
  write(batch: arrow.RecordBatch, release: boolean): Promise<void>
  /** Ends the output; `metadata` replaces the footer metadata (Parquet). */
  finish(metadata: Record<string, string>): Promise<WriteSummary>
  /** Checks the finished file open at `fd` against what was written (size, rows as read back). */
  verify(fd: number, summary: WriteSummary): Promise<void>
  /** Stops without finishing; the sink discards what was written. */
  abort(): void
}

/** The addon's writer options for `format` into `sink`. */
export function nativeWriterOptions(format: Format, sink: Sink, o: WriterOptions): NativeWriterOptions {
  const spec = FORMATS[format]
  return {
    format,
    compression: o.compression,
    floatEncoding: o.floatEncoding,
    hold: o.hold,
    flush: o.flush,
    // Past the page cache, whose copying costs the encoders CPU (see the addon's sink); not for a
    // live feed, whose small flushes direct I/O cannot write.
    direct: !sink.stream && !o.flush,
    createdBy: o.createdBy,
    rowGroupRows: o.rowGroupRows,
    metadata: spec.metadataAtFinish ? undefined : o.metadata,
    name: sink.name,
    partitionDir: sink.dir,
    partitionBy: o.partitionBy,
  }
}

/** Finishes an output the addon wrote: `metadata` goes into the footer of formats that take it
 * at the end (Parquet); a regular file is then checked (a dataset's files were read back as they
 * were finished). */
export function finishOutput(format: Format, sink: Sink, finish: (metadata: Record<string, string>) => Promise<WriteSummary>) {
  const spec = FORMATS[format]
  return {
    finish: (metadata: Record<string, string>) => finish(spec.metadataAtFinish ? metadata : {}),
    verify: (fd: number, summary: WriteSummary) => (sink.dir ? Promise.resolve() : native().verifyOutput(fd, summary, sink.name)),
  }
}

export function createWriter(format: Format, sink: Sink, schema: arrow.Schema, o: WriterOptions): Writer {
  const fields = schema.fields.map((f) => ({ name: f.name, type: nativeType(f) }))
  const w = new (native().NativeWriter)(sink.fd, fields, nativeWriterOptions(format, sink, o))
  return {
    format: FORMATS[format],
    write: (batch, release) => w.writeAsync(batch.data.children.map(columnBuffers), batch.numRows, release),
    ...finishOutput(format, sink, (metadata) => w.finishAsync(metadata)),
    abort: () => w.abort(),
  }
}

function nativeType(field: arrow.Field): string {
  const name = typeName(field.type)
  if (name) return name
  throw Object.assign(new Error(`column ${field.name} has type ${String(field.type)}, which trendflex cannot write`), { code: 'ERR_OUTPUT_SCHEMA' })
}
