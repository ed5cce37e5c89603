// What opening the input tells the job: the columns it matched, what is known of its size, and
// the addon's source, which the job takes and reads.
import type { NativeSource } from '../../../native/node/binding.cjs'

/** `--gaps`: what a missing price does. The reader applies it (and names the line of a gap under
 * `error`). */
export type Gaps = 'error' | 'propagate' | 'ffill'

export interface InputSource {
  /** Of the first input, when there are several. */
  readonly format: 'csv' | 'parquet' | 'arrow'
  /** File name, "stdin", or "N files". */
  readonly name: string
  /** The matched price column. */
  readonly column: string
  /** The matched keep columns. */
  readonly keep: string[]
  /** Rows in the input, when known before reading it all (Parquet). */
  readonly totalRows?: number
  /** The input file's size, when it is one. */
  readonly inputBytes?: number
  /** The addon's source, which a job takes and reads. */
  readonly handle: NativeSource
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
  /** A live feed (`--follow`): a chunk as soon as a row is complete. */
  follow?: boolean
}
