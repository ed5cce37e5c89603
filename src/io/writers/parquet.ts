// Parquet output: the arrow-rs `parquet` crate in the addon, columns encoded in parallel,
// LZ4_RAW by default, floats PLAIN (or BYTE_STREAM_SPLIT), statistics on, 64-bit offsets (no size
// limit).
import type { FormatSpec } from './format.js'

export type Compression = 'lz4' | 'zstd' | 'snappy' | 'none'
export const COMPRESSIONS: readonly Compression[] = ['lz4', 'zstd', 'snappy', 'none']

/** How float columns are stored: PLAIN opens everywhere (Spark 4.1's default reader refuses
 * BYTE_STREAM_SPLIT), BYTE_STREAM_SPLIT compresses noisy doubles better. */
export type FloatEncoding = 'plain' | 'byte-stream-split'
export const FLOAT_ENCODINGS: readonly FloatEncoding[] = ['plain', 'byte-stream-split']

export const parquet: FormatSpec = {
  name: 'parquet',
  extensions: ['.parquet', '.pq'],
  binary: true,
  // The footer comes last: its metadata can carry the final row count.
  metadataAtFinish: true,
}
