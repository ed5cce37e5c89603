// What distinguishes the output formats on the JS side; the encoding is all in the addon.
export type Format = 'parquet' | 'csv' | 'arrow'

export interface FormatSpec {
  readonly name: Format
  /** Output names that mean this format (lower case, with the dot). */
  readonly extensions: readonly string[]
  /** Binary: never written to a terminal. */
  readonly binary: boolean
  /** Metadata goes in at the end (Parquet's footer) rather than at the start (Arrow's schema). */
  readonly metadataAtFinish: boolean
}
