// Opening the input: a .csv / .csv.gz / .parquet path, or stdin ('-'); when the name does not
// tell, the format is sniffed (Parquet starts with PAR1, gzip with 1f 8b). Parquet from stdin
// is buffered first: its footer is at the end.
import { createReadStream, fstatSync, openAsBlob, promises as fs } from 'node:fs'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'

import { dataError } from '../../errors.js'
import { native } from '../../native.js'
import { openCsv } from './csv.js'
import type { InputOptions, InputSource } from './source.js'

export type { InputChunk, InputOptions, InputSource } from './source.js'

type Kind = 'csv' | 'csv.gz' | 'parquet'

function kindFromName(path: string): Kind | undefined {
  const p = path.toLowerCase()
  if (p.endsWith('.parquet') || p.endsWith('.pq')) return 'parquet'
  if (p.endsWith('.csv.gz') || p.endsWith('.tsv.gz')) return 'csv.gz'
  if (p.endsWith('.csv') || p.endsWith('.tsv') || p.endsWith('.txt')) return 'csv'
  return undefined
}

function kindFromBytes(head: Uint8Array): Kind {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x41 && head[2] === 0x52 && head[3] === 0x31) return 'parquet'
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'csv.gz'
  return 'csv'
}

/** Device and inode of the input: a regular file's, stdin's when it is one. */
export async function inputIdentity(path: string): Promise<{ dev: number; ino: number } | undefined> {
  const st = path === '-' ? fstatSync(0) : await fs.stat(path).catch(() => undefined)
  return st?.isFile() ? { dev: st.dev, ino: st.ino } : undefined
}

/** Opens `path` ('-' = stdin) as a price source. */
export async function openInput(path: string, options: InputOptions): Promise<InputSource> {
  if (path === '-') return openStdin(options)
  const st = await fs.stat(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? dataError(`${path}: no such file`) : error
  })
  if (st.isDirectory()) throw dataError(`${path}: is a directory, not a price file`)
  let kind = kindFromName(path)
  if (!kind) {
    const fh = await fs.open(path, 'r')
    const head = new Uint8Array(4)
    await fh.read(head, 0, 4, 0).finally(() => fh.close())
    kind = kindFromBytes(head)
  }
  if (kind === 'parquet') {
    if (st.size < 12) throw dataError(`${path}: too short to be a Parquet file (${st.size} bytes)`)
    const { openParquet } = await import('./parquet.js') // parquet-wasm loads only for Parquet
    return openParquet(await openAsBlob(path), path, options.column, options.keep)
  }
  let bytes: Readable = createReadStream(path, { highWaterMark: 1 << 20 })
  if (kind === 'csv.gz') bytes = bytes.pipe(createGunzip())
  // The record count, for the metadata and progress totals, is taken off the main thread while
  // the header is read (plain files only: gzip would be decompressed twice).
  const counting = kind === 'csv' ? native().countCsvFile(path, undefined) : undefined
  counting?.catch(() => {}) // a read error is reported by the stream itself
  return openCsv(bytes, path, options, counting)
}

async function openStdin(options: InputOptions): Promise<InputSource> {
  const it = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const first = await it.next()
  const head: Buffer = first.done ? Buffer.alloc(0) : first.value
  const kind = kindFromBytes(head)
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value
  }
  if (kind === 'parquet') {
    const parts: Buffer[] = []
    for await (const b of rest()) parts.push(b)
    const { openParquet } = await import('./parquet.js')
    return openParquet(new Blob(parts as unknown as BlobPart[]), 'stdin', options.column, options.keep)
  }
  let bytes: Readable = Readable.from(rest(), { objectMode: false })
  if (kind === 'csv.gz') bytes = bytes.pipe(createGunzip())
  return openCsv(bytes, 'stdin', options)
}
