// Parquet compression names, apart from the writer so flag definitions load no wasm.
export type Compression = 'zstd' | 'snappy' | 'lz4' | 'none'
export const COMPRESSIONS: readonly Compression[] = ['lz4', 'zstd', 'snappy', 'none']
