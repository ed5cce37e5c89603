// Opening the input: CSV/TSV (plain, .gz or .zst), Parquet or Arrow IPC, from files (several
// are one table, read in order) or stdin, all read natively in the addon (told apart by their
// first bytes). Each chunk's prices go straight
// into the caller's buffer; keep columns come back as Arrow buffers, made Arrow data here
// without a copy.
import * as arrow from 'apache-arrow'

import type { KeepBuffers, NativeSource } from '../../../native/node/binding.cjs'
import { dataError } from '../../errors.js'
import { native } from '../../native.js'
import { typeFromName } from '../arrow-types.js'
import type { Inputs } from './inputs.js'
import type { InputChunk, InputOptions, InputSource } from './source.js'

export { FILENAME, type Inputs, partitionKeys, resolveInputs } from './inputs.js'
export type { Gaps, InputChunk, InputOptions, InputSource, KeepRequest } from './source.js'

/** Opens the inputs as one price source. */
export async function openInput(inputs: Inputs, o: InputOptions): Promise<InputSource> {
  const { name, files } = inputs
  let source: NativeSource
  try {
    source = await native().openSource(null, {
      column: o.column,
      keep: o.keep,
      delimiter: o.delimiter,
      header: o.header,
      keepAsText: o.keepAsText,
      gaps: o.gaps,
      chunkRows: o.chunkRows,
      lines: o.lines,
      follow: o.follow,
      // One input: messages start with its name; several: with the name of the one at fault.
      name: files !== 'stdin' && files.length > 1 ? '' : name,
      files: files === 'stdin' ? undefined : files,
    })
  } catch (error) {
    throw inputError(error)
  }
  let firstRow = 0
  return {
    format: source.format as InputSource['format'],
    name,
    column: source.column,
    keep: source.keep,
    keepTypes: source.keepTypes?.map(typeFromName),
    totalRows: source.totalRows ?? undefined,
    inputBytes: source.inputBytes ?? undefined,
    handle: source,
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
