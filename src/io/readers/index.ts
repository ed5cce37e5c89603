// Opening the input: CSV/TSV (plain, .gz or .zst), Parquet or Arrow IPC, from files (several
// are one table, read in order) or stdin, all read natively in the addon (told apart by their
// first bytes). The job then reads it in the addon too: no chunk comes into JS.
import type { NativeSource } from '../../../native/node/binding.cjs'
import { dataError } from '../../errors.js'
import { native } from '../../native.js'
import type { Inputs } from './inputs.js'
import type { InputOptions, InputSource } from './source.js'

export { FILENAME, type Inputs, partitionKeys, resolveInputs } from './inputs.js'
export type { Gaps, InputOptions, InputSource, KeepRequest } from './source.js'

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
      follow: o.follow,
      // One input: messages start with its name; several: with the name of the one at fault.
      name: files !== 'stdin' && files.length > 1 ? '' : name,
      files: files === 'stdin' ? undefined : files,
    })
  } catch (error) {
    throw inputError(error)
  }
  return {
    format: source.format as InputSource['format'],
    name,
    column: source.column,
    keep: source.keep,
    totalRows: source.totalRows ?? undefined,
    inputBytes: source.inputBytes ?? undefined,
    handle: source,
  }
}

/** The input's own failures (ERR_INPUT, or the system's: ENOENT, EACCES, ...) are data errors,
 * worded by the addon with the input's name. Other codes (an option the reader refuses) go on to
 * `toCliError`, which knows which are usage errors. */
function inputError(error: unknown): Error {
  const e = error as { code?: string; message?: string }
  return e?.code === 'ERR_INPUT' || /^E[A-Z]+$/.test(e?.code ?? '') ? dataError(e.message ?? String(error)) : (error as Error)
}
