// What every input reader gives the job: the matched columns, then the prices in chunks with
// their `--keep` columns as Arrow vectors.
import type * as arrow from 'apache-arrow'

export interface InputChunk {
  /** This chunk's prices, NaN where missing (valid until the next chunk is requested). */
  prices: Float64Array
  /** The `--keep` columns for these rows (fresh per chunk: a writer may still hold the last). */
  keep: arrow.Data[]
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
  /** The matched keep columns (their types come with the chunks). */
  readonly keep: string[]
  /** Rows in the input, when known before reading it all. */
  readonly totalRows?: number
  /** Identity of the input file (device and inode), to refuse writing over it. */
  readonly identity?: { dev: number; ino: number }
  chunks(rows: number): AsyncGenerator<InputChunk>
}

export interface InputOptions {
  column: string
  keep: string[]
}
