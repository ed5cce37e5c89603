// Which files the input arguments name: files as given, globs ('data/*.csv', quoted so the
// shell leaves them alone) and directories, read recursively as a hive-partitioned dataset
// (`data/symbol=AAPL/part-0.parquet`) whose `key=value` folders become columns, as DuckDB's
// hive_partitioning does. Several files are read one after another as one table.
import { type Stats, promises as fs, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'

import { glob, isDynamicPattern } from 'tinyglobby'

import { dataError, usageError } from '../../errors.js'

export interface InputFile {
  path: string
  /** As the user named it (a glob's or a directory's match: its path), for messages. */
  name: string
  /** Columns with one value for the whole file: hive partitions, and `filename`. */
  constants: { name: string; value: string }[]
}

export interface Inputs {
  /** stdin, or the files in the order they are read. */
  files: InputFile[] | 'stdin'
  /** For messages and metadata: the one input's name, or "N files". */
  name: string
  /** Device and inode of every regular file (the output may not be one of them). */
  identities: { dev: number; ino: number }[]
}

/** The virtual column every file has: its path as named. */
export const FILENAME = 'filename'

/** Orders `part-2` before `part-10`, whatever the locale. */
const natural = new Intl.Collator('en', { numeric: true }).compare

/** The hive partition columns of the inputs (the same for all of them). */
export function partitionKeys(inputs: Inputs): string[] {
  if (inputs.files === 'stdin') return []
  return inputs.files[0]!.constants.filter((c) => c.name !== FILENAME).map((c) => c.name)
}

/** Resolves the input arguments (none, or '-': stdin). */
export async function resolveInputs(args: string[]): Promise<Inputs> {
  if (args.length === 0 || (args.length === 1 && args[0] === '-')) {
    // Nothing named and nothing piped: say so rather than wait for typing (as gzip and zstd do).
    // An explicit '-' still reads a terminal, for whoever means to type prices.
    if (args.length === 0 && process.stdin.isTTY) {
      throw usageError('no input: name a price file, or pipe one in (stdin is a terminal)')
    }
    const st = statSync('/dev/stdin', { throwIfNoEntry: false })
    return { files: 'stdin', name: 'stdin', identities: st?.isFile() ? [{ dev: st.dev, ino: st.ino }] : [] }
  }
  if (args.includes('-')) throw usageError('stdin (-) cannot be read together with files: give files only, or pipe everything in')
  const files: InputFile[] = []
  for (const arg of args) files.push(...(await expand(arg)))
  const identities: { dev: number; ino: number }[] = []
  for (const f of files) {
    const st = await fs.stat(f.path).catch(() => undefined)
    if (st?.isFile()) identities.push({ dev: st.dev, ino: st.ino })
  }
  const keys = (f: InputFile) => f.constants.filter((c) => c.name !== FILENAME).map((c) => c.name).join('/')
  const odd = files.find((f) => keys(f) !== keys(files[0]!))
  if (odd) {
    throw usageError(`${odd.name} is partitioned by ${keys(odd) || 'nothing'}, but ${files[0]!.name} by ${keys(files[0]!) || 'nothing'}: every input must have the same partition folders`)
  }
  return { files, name: files.length === 1 ? files[0]!.name : `${files.length} files`, identities }
}

async function expand(arg: string): Promise<InputFile[]> {
  const st: Stats | undefined = await fs.stat(arg).catch(() => undefined)
  if (st?.isDirectory()) return dataset(arg)
  if (st) return [file(arg, arg, [])]
  // Every file is looked for before any is read: a run does not fail half-way for a typo.
  if (!isDynamicPattern(arg)) throw dataError(`${arg}: no such file or directory`)
  const found = (await glob(arg, { onlyFiles: true, expandDirectories: false })).sort(natural)
  if (found.length === 0) throw usageError(`no file matches ${arg}`)
  return found.map((p) => file(p, p, []))
}

/** Every data file under `dir` (not hidden, not `_SUCCESS`-like), with its partition columns. */
async function dataset(dir: string): Promise<InputFile[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  const paths = entries
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .filter((p) => !p.split(sep).some((part) => part.startsWith('.') || part.startsWith('_')))
    .sort(natural)
  if (paths.length === 0) throw dataError(`${dir}: the directory holds no data files`)
  return paths.map((p) => file(join(dir, p), join(dir, p), partitions(p)))
}

/** `symbol=AAPL/year=2024/part-0.parquet` -> symbol AAPL, year 2024 (values %-decoded). */
function partitions(path: string): { name: string; value: string }[] {
  return path
    .split(sep)
    .slice(0, -1)
    .map((part) => /^([^=]+)=(.*)$/.exec(part))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1]!, value: decode(m[2]!) }))
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function file(path: string, name: string, constants: { name: string; value: string }[]): InputFile {
  return { path, name, constants: [...constants, { name: FILENAME, value: name }] }
}
