// Where results go: a file written atomically (a temporary file beside the target, renamed into
// place only on success), or stdout.
import { randomBytes } from 'node:crypto'
import { promises as fs, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

import { dataError } from '../core/errors.js'
import { stopwatch } from '../core/timings.js'

/** Temporary files still to be removed if the process dies (exit, SIGINT). */
const pending = new Set<string>()
let hooked = false

function hookCleanup(): void {
  if (hooked) return
  hooked = true
  // Also runs when a wasm trap or an uncaught error ends the process.
  process.on('exit', () => {
    for (const path of pending) rmSync(path, { force: true })
  })
}

/** A file being written under a temporary name beside its target. */
export class AtomicFile {
  readonly temp: string
  #done = false

  constructor(readonly target: string) {
    this.temp = join(dirname(target), `.${basename(target)}.trendflex-${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
    hookCleanup()
    pending.add(this.temp)
  }

  /** Makes sure the target's directory exists and is writable, before any work. */
  async check(): Promise<void> {
    const dir = dirname(this.target)
    const st = await fs.stat(dir).catch(() => undefined)
    if (!st?.isDirectory()) throw dataError(`cannot write ${this.target}: directory ${dir} does not exist`)
    const target = await fs.stat(this.target).catch(() => undefined)
    if (target?.isDirectory()) throw dataError(`cannot write ${this.target}: it is a directory`)
  }

  /** Moves the finished temporary file into place. */
  async commit(): Promise<void> {
    await fs.rename(this.temp, this.target)
    pending.delete(this.temp)
    this.#done = true
  }

  /** Removes the temporary file; the target is left as it was. */
  async discard(): Promise<void> {
    if (this.#done) return
    await fs.rm(this.temp, { force: true })
    pending.delete(this.temp)
    this.#done = true
  }
}

/** Writes all of `data` to a file handle (handles partial writes). */
export async function writeAll(fh: fs.FileHandle, data: Uint8Array): Promise<void> {
  let off = 0
  while (off < data.byteLength) {
    const { bytesWritten } = await fh.write(data, off, data.byteLength - off)
    off += bytesWritten
  }
}

/**
 * Writes chunks to a file in order, in the background, so that the producer (the Parquet
 * encoder) goes on while earlier chunks are written; at most `limit` bytes wait at a time.
 * A failed write fails every later call.
 */
export class WriteBehind {
  #tail: Promise<void> = Promise.resolve()
  readonly #queue: { done: Promise<void>; bytes: number }[] = []
  #queued = 0

  constructor(
    readonly fh: fs.FileHandle,
    readonly limit = 64 << 20,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    const done = this.#tail.then(() => writeAll(this.fh, chunk))
    done.catch(() => {}) // reported when awaited, in order
    this.#tail = done
    this.#queue.push({ done, bytes: chunk.byteLength })
    this.#queued += chunk.byteLength
    while (this.#queued > this.limit) await this.#settleOldest()
  }

  /** Waits for every queued write. */
  async flush(): Promise<void> {
    while (this.#queue.length) await this.#settleOldest()
  }

  async #settleOldest(): Promise<void> {
    const first = this.#queue.shift()!
    this.#queued -= first.bytes
    const waiting = stopwatch('write_behind_wait')
    await first.done
    waiting()
  }
}
