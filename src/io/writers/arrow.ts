// Arrow IPC stream output (`-f arrow`): the chunks as Arrow record batches, nulls included, the
// fastest way into pyarrow, polars or DuckDB, also through a pipe.
import type { FormatSpec } from './format.js'

export const arrowStream: FormatSpec = {
  name: 'arrow',
  extensions: ['.arrow', '.arrows'],
  binary: true,
  // The schema message comes first, so its metadata is known before any row.
  metadataAtFinish: false,
}
