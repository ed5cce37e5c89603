// What the input reader gives the job: the matched columns, then the prices in chunks with their
// `--keep` columns as Arrow data.
import type * as arrow from 'apache-arrow'

import type { NativeSource } from '../../../native/node/binding.cjs'

/** `--gaps`: what a missing price does. The reader applies it (and names the line of a gap under
 * `error`). */
export type Gaps = 'error' | 'propagate' | 'ffill'

export interface InputChunk {
  /** Rows read; 0 at the end of the input. */
  rows: number
  /** The chunk's prices (a view of the buffer given to `read`), NaN where missing. */
  prices: Float64Array
  /** The `--keep` columns for these rows (fresh per chunk: a writer may still hold the last). */
  keep: arrow.Data[]
  /** Index of the chunk's first row in the whole input. */
  firstRow: number
  /** Row of the first valid price, once there has been one. */
  firstValid?: number
  /** Row of the first missing price after it, under `--gaps propagate`. */
  firstGap?: number
  /** Bytes of the input read so far (compressed bytes for .gz and .zst). */
  bytesRead: number
  /** CSV, when asked for: the input line of every row. */
  lines?: Float64Array
}

export interface InputSource {
  /** Of the first input, when there are several. */
  readonly format: 'csv' | 'parquet' | 'arrow'
  /** File name, "stdin", or "N files". */
  readonly name: string
  /** The matched price column. */
  readonly column: string
  /** The matched keep columns. */
  readonly keep: string[]
  /** Their Arrow types, when known before any row is read (Parquet and Arrow inputs, declared
   * CSV types); CSV columns typed from a sample have none until then. */
  readonly keepTypes?: arrow.DataType[]
  /** Rows in the input, when known before reading it all (Parquet). */
  readonly totalRows?: number
  /** The input file's size, when it is one. */
  readonly inputBytes?: number
  /** The addon's source, for a job that reads it natively (then `read` is not called). */
  readonly handle: NativeSource
  /** Reads the next chunk into `prices` (up to its length). One call at a time. */
  read(prices: Float64Array): Promise<InputChunk>
}

export interface KeepRequest {
  /** A header name (or, with `header: false`, a 1-based position). */
  name: string
  /** Declared with `--keep NAME:TYPE`. */
  type?: 'int64' | 'float64' | 'text'
}

export interface InputOptions {
  column: string
  keep: KeepRequest[]
  /** One byte; default tab for .tsv/.tab names, else a comma. */
  delimiter?: string
  header: boolean
  /** CSV keep columns stay text exactly as written (the output is CSV). */
  keepAsText: boolean
  /** `keep`: leave missing prices as they are (the caller applies --gaps per group). */
  gaps: Gaps | 'keep'
  chunkRows: number
  /** Hand out each row's input line (CSV). */
  lines?: boolean
  /** A live feed (`--follow`): a chunk as soon as a row is complete. */
  follow?: boolean
}
