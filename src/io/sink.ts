// Where output bytes go, and the promise that a user's file is never damaged. A regular file (or
// a new path) is written to a temporary file beside it, checked, and renamed over it, keeping its
// permission bits; a symlink is followed and the file it points to is replaced, the link kept.
// Anything else (stdout, a FIFO, a device, /dev/stdout, a process substitution) is written in
// place as a stream, with no temporary file. Every message names the output as the user gave it.
import { chmodSync, closeSync, constants, fchmodSync, lstatSync, mkdtempSync, openSync, promises as fs, readdirSync, readlinkSync, renameSync, rmSync, statSync, type Stats } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { isatty } from 'node:tty'

import { dataError, usageError } from '../errors.js'
import { native } from '../native.js'

export interface Sink {
  /** The descriptor writers write to. */
  readonly fd: number
  /** The output as the user named it ("stdout" for `-`). */
  readonly name: string
  /** A stream (stdout, FIFO, device): nothing can be taken back once written, so output waits
   * until the data is known good, and nothing is read back. */
  readonly stream: boolean
  /** A terminal: binary formats are refused. */
  readonly tty: boolean
  /** A dataset: the (temporary) directory its files go to; `fd` is not used. */
  readonly dir?: string
  /** Makes the output final: a file is checked with `verify` (while still under its temporary
   * name), closed and renamed into place. */
  commit(verify: (fd: number) => Promise<void>): Promise<void>
  /** Abandons the output: a temporary file is removed and the target keeps its old content. */
  discard(): void
}

/** Temporary files to remove if the process ends before they are committed or discarded. */
const temporaries = new Set<string>()
let hooked = false

function removeOnExit(path: string): void {
  if (!hooked) {
    hooked = true
    // Runs on every exit, also process.exit() from a signal handler (bin/run.js). Temporary
    // files are created and renamed synchronously on the main thread, so a signal handled
    // between two tasks always sees this set in step with the disk.
    process.on('exit', () => {
      for (const p of temporaries) rmSync(p, { force: true, recursive: true })
    })
  }
  temporaries.add(path)
}

/** The descriptor links of /dev and /proc: writing to them means writing to an open descriptor. */
const FD_LINK = /^\/(?:proc\/[^/]+\/fd\/\d+|dev\/fd\/\d+|dev\/std(?:in|out|err))$/
const STDOUT_LINK = /^\/(?:proc\/self\/fd\/1|dev\/fd\/1|dev\/stdout)$/

/** Follows `path`'s symlinks to the file they lead to (which may not exist yet), stopping at a
 * descriptor link. */
function follow(path: string, name: string): { path: string; fdLink: boolean } {
  let p = resolve(path)
  for (let hops = 0; hops < 40; hops++) {
    if (FD_LINK.test(p)) return { path: p, fdLink: true }
    let st: Stats
    try {
      st = lstatSync(p)
    } catch {
      return { path: p, fdLink: false }
    }
    if (!st.isSymbolicLink()) return { path: p, fdLink: false }
    p = resolve(dirname(p), readlinkSync(p))
  }
  throw dataError(`cannot write ${name}: too many levels of symbolic links`)
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/**
 * Opens the output `output` ('-' = stdout). `inputs`: the input files' identities; writing over
 * one is refused before anything is read.
 */
export async function openSink(output: string, inputs: { dev: number; ino: number }[] = []): Promise<Sink> {
  if (output === '-') return streamSink(1, 'stdout', false)
  const name = output
  const { path, fdLink } = follow(output, name)
  const st = statOrUndefined(path)
  if (st && inputs.some((i) => st.dev === i.dev && st.ino === i.ino)) {
    throw usageError(`${name} is the input file: write the output somewhere else`)
  }
  if (fdLink && STDOUT_LINK.test(path)) return streamSink(1, name, false)
  if (fdLink || (st && !st.isFile() && !st.isDirectory())) {
    let fh: fs.FileHandle
    try {
      // Asynchronous: opening a FIFO waits for its reader, and Ctrl-C must work meanwhile.
      fh = await fs.open(path, constants.O_WRONLY | constants.O_APPEND)
    } catch (error) {
      throw openError(name, error)
    }
    return streamSink(fh.fd, name, true, () => fh.close())
  }
  if (st?.isDirectory()) throw dataError(`cannot write ${name}: it is a directory`)
  const dir = dirname(path)
  if (!statOrUndefined(dir)?.isDirectory()) throw dataError(`cannot write ${name}: directory ${dirname(output)} does not exist`)
  return fileSink(path, name, st)
}

/**
 * Opens `--state FILE` for writing at the end of the run, with a file's care: written beside,
 * renamed over it only once complete. An existing FILE is replaced only if it is a trendflex
 * state (a typo naming a price file or an output must not destroy it).
 */
export function openStateSink(given: string, inputs: { dev: number; ino: number }[], output: string): Sink {
  const name = `--state ${given}`
  if (given === '-') throw usageError('--state writes a file: give it a path, not -')
  // Through symbolic links: the file they lead to is replaced, not the link.
  const { path } = follow(given, name)
  const st = statOrUndefined(path)
  if (st && inputs.some((i) => st.dev === i.dev && st.ino === i.ino)) throw usageError(`${name} is an input file: give the state its own file`)
  const out = output === '-' ? undefined : follow(output, output).path
  const outSt = out === undefined ? undefined : statOrUndefined(out)
  if (out === path || (st && outSt && st.dev === outSt.dev && st.ino === outSt.ino)) throw usageError(`${name} is also the output: give the state its own file`)
  if (st && !st.isFile()) throw usageError(`${name} exists and is not a regular file: give a file path`)
  if (st && !native().replaceableState(path, name)) throw usageError(`${name} exists and is not a trendflex state file: refusing to replace it (give a new name, or remove it)`)
  const dir = dirname(path)
  if (!statOrUndefined(dir)?.isDirectory()) throw dataError(`cannot write ${name}: directory ${dir} does not exist`)
  return fileSink(path, name, st)
}

function openError(name: string, error: unknown): Error {
  const e = error as NodeJS.ErrnoException
  const reason = { EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system', ENOSPC: 'no space left on device', ENXIO: 'no reader on the other end' }[e.code ?? '']
  // Node's message names the path it tried (`ENOENT: no such file or directory, open '/x/.y.tmp'`),
  // which may be our temporary file: keep only the reason, so the message names the user's path.
  const text = e.code ? e.message.replace(/^[A-Z0-9_]+: /, '').replace(/, \w+ '.*'$/s, '') : e.message
  return dataError(`cannot write ${name}: ${reason ?? text}`)
}

function streamSink(fd: number, name: string, owned: boolean, close?: () => Promise<void>): Sink {
  let closed = !owned
  return {
    fd,
    name,
    stream: true,
    tty: isatty(fd),
    async commit() {
      if (!closed) await close?.()
      closed = true
    },
    discard() {
      if (!closed) closeSync(fd)
      closed = true
    },
  }
}

function fileSink(target: string, name: string, existing: Stats | undefined): Sink {
  const temp = join(dirname(target), `.${basename(target)}.trendflex-${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  let fd: number
  try {
    // Read and write: the finished file is read back through the same descriptor.
    fd = openSync(temp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o666)
    removeOnExit(temp)
    if (existing) fchmodSync(fd, existing.mode & 0o7777)
  } catch (error) {
    throw openError(name, error)
  }
  let open = true
  const finish = (commit: boolean) => {
    if (open) closeSync(fd)
    open = false
    // Synchronous, so that a signal is handled before or after, never halfway.
    if (commit) native().replaceFile(temp, target, name)
    else rmSync(temp, { force: true })
    temporaries.delete(temp)
  }
  return {
    fd,
    name,
    stream: false,
    tty: false,
    async commit(verify) {
      await verify(fd)
      try {
        finish(true)
      } catch (error) {
        this.discard()
        throw dataError(`cannot replace ${(error as Error).message}`)
      }
    },
    discard() {
      if (temporaries.has(temp)) finish(false)
    },
  }
}

/**
 * Opens the directory `output` for a partitioned dataset. Its files are written into a temporary
 * directory beside it, renamed into place once all are finished and checked: the dataset appears
 * whole or not at all. An existing directory must be empty (a dataset is never merged into, nor
 * replaced).
 */
export function openDatasetSink(output: string, inputs: { dev: number; ino: number }[] = []): Sink {
  const name = output
  if (output === '-') throw usageError('--partition-by writes a directory: give it with --output DIR')
  const { path } = follow(output, name)
  const st = statOrUndefined(path)
  if (st && !st.isDirectory()) throw usageError(`--partition-by writes a directory, and ${name} is ${inputs.some((i) => i.dev === st.dev && i.ino === st.ino) ? 'the input file' : 'a file'}: give a new directory name`)
  if (st && readdirSync(path).length > 0) throw usageError(`${name} is not empty: --partition-by writes a new or empty directory, and never merges into or replaces one (remove it first)`)
  const parent = dirname(path)
  if (!statOrUndefined(parent)?.isDirectory()) throw dataError(`cannot write ${name}: directory ${dirname(output)} does not exist`)
  let temp: string
  try {
    temp = mkdtempSync(join(parent, `.${basename(path)}.trendflex-${process.pid}-`))
    removeOnExit(temp)
    chmodSync(temp, 0o777 & ~process.umask())
  } catch (error) {
    throw openError(name, error)
  }
  return {
    fd: -1,
    name,
    stream: false,
    tty: false,
    dir: temp,
    async commit() {
      // The writer read every file's footer back before this; an empty target is replaced.
      try {
        renameSync(temp, path)
      } catch (error) {
        this.discard()
        throw dataError(`cannot move the dataset into place: ${(error as Error).message}`)
      } finally {
        temporaries.delete(temp)
      }
    },
    discard() {
      if (!temporaries.has(temp)) return
      rmSync(temp, { force: true, recursive: true })
      temporaries.delete(temp)
    },
  }
}
