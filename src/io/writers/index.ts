// The output formats as the job chooses them: from --format or the output's name. Encoding and
// writing are all in the addon (./pipeline.ts in core hands it the options).
import { extname } from 'node:path'

import { usageError } from '../../errors.js'
import { arrowStream } from './arrow.js'
import { csv } from './csv.js'
import type { Format, FormatSpec } from './format.js'
import { parquet } from './parquet.js'

export type { Format, FormatSpec } from './format.js'
export { COMPRESSIONS, type Compression, FLOAT_ENCODINGS, type FloatEncoding } from './parquet.js'
export type { WriteSummary } from '../../../native/node/binding.cjs'

export const FORMATS: Record<Format, FormatSpec> = { parquet, csv, arrow: arrowStream }

/** The format an output name means, from its extension; undefined when it says none. */
export function formatFromName(path: string): Format | undefined {
  const ext = extname(path).toLowerCase()
  return Object.values(FORMATS).find((f) => f.extensions.includes(ext))?.name
}

/** The output format: `--format`, else the output's extension, else CSV (also for stdout). A
 * dataset (`--partition-by`) is Parquet, and a name or --format saying otherwise is a mistake. */
export function outputFormat(output: string, format: Format | undefined, dataset = false): Format {
  const named = output === '-' ? undefined : formatFromName(output)
  if (dataset) {
    if ((format && format !== 'parquet') || (named && named !== 'parquet')) {
      throw usageError(`--partition-by writes a Parquet dataset (a directory), not ${format ?? named}: drop --format, or write without --partition-by`)
    }
    return 'parquet'
  }
  if (output !== '-' && /\.(gz|zst|zstd|bz2|xz|lz4|zip)$/i.test(output)) {
    throw usageError(`cannot write ${output}: trendflex does not compress text output; write .parquet (compressed), or pipe CSV through gzip`)
  }
  if (format && named && format !== named) {
    throw usageError(`--format ${format} contradicts the output name ${output} (${named}): rename the output or drop --format`)
  }
  return format ?? named ?? 'csv'
}
