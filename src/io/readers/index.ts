// Opening the input: CSV/TSV (plain, .gz or .zst) or Parquet, from a file or stdin ('-'), all
// read natively in the addon (told apart by their first bytes). Each chunk's prices go straight
// into the caller's buffer; keep columns come back as Arrow buffers, made Arrow data here
// without a copy.
import { fstatSync, promises as fs } from 'node:fs'

import * as arrow from 'apache-arrow'

import type { KeepBuffers, NativeSource } from '../../../native/node/binding.cjs'
import { dataError } from '../../errors.js'
import { native } from '../../native.js'
import { typeFromName } from '../arrow-types.js'
import type { InputChunk, InputOptions, InputSource } from './source.js'

export type { InputChunk, InputOptions, InputSource, KeepRequest } from './source.js'

/** Device and inode of the input: a regular file's, stdin's when it is one. */
export async function inputIdentity(path: string): Promise<{ dev: number; ino: number } | undefined> {
  const st = path === '-' ? fstatSync(0) : await fs.stat(path).catch(() => undefined)
  return st?.isFile() ? { dev: st.dev, ino: st.ino } : undefined
}

/** Opens `path` ('-' = stdin) as a price source. */
export async function openInput(path: string, o: InputOptions): Promise<InputSource> {
  const name = path === '-' ? 'stdin' : path
  let source: NativeSource
  try {
    source = await native().openSource(path === '-' ? null : path, {
      column: o.column,
      keep: o.keep,
      delimiter: o.delimiter,
      header: o.header,
      keepAsText: o.keepAsText,
      gaps: o.gaps,
      chunkRows: o.chunkRows,
      lines: o.lines,
      name,
    })
  } catch (error) {
    throw inputError(error)
  }
  let firstRow = 0
  return {
    format: source.format as 'csv' | 'parquet',
    name,
    column: source.column,
    keep: source.keep,
    totalRows: source.totalRows ?? undefined,
    inputBytes: source.inputBytes ?? undefined,
    async read(prices: Float64Array): Promise<InputChunk> {
      let r
      try {
        r = await source.readAsync(prices)
      } catch (error) {
        throw inputError(error)
      }
      const chunk = {
        rows: r.rows,
        prices: prices.subarray(0, r.rows),
        keep: r.keep.map(keepData),
        firstRow,
        firstValid: r.firstValid ?? undefined,
        firstGap: r.firstGap ?? undefined,
        bytesRead: r.bytesRead,
        lines: r.lines ?? undefined,
      }
      firstRow += r.rows
      return chunk
    },
  }
}

function inputError(error: unknown): Error {
  const e = error as { code?: string; message?: string }
  return e?.code === 'ERR_INPUT' || e?.code?.startsWith('E') ? dataError(e.message ?? String(error)) : (error as Error)
}

/** A keep column of one chunk as Arrow data over the buffers the addon made (no copy). */
function keepData(k: KeepBuffers): arrow.Data {
  type Typed = { new (buffer: ArrayBufferLike, offset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT: number }
  const type = typeFromName(k.type)
  const v = k.values
  // Arrow JS wants fixed-width values in its type's own typed array (BigInt64Array for int64,
  // ...); text, binary and booleans are bytes.
  const Values = (type as unknown as { ArrayType?: Typed }).ArrayType
  const data = k.offsets || arrow.DataType.isBool(type) || !Values ? v : new Values(v.buffer, v.byteOffset, v.byteLength / Values.BYTES_PER_ELEMENT)
  return arrow.makeData({ type, length: k.length, nullCount: k.nullCount, nullBitmap: k.validity ?? undefined, data, valueOffsets: k.offsets ?? undefined } as never)
}
