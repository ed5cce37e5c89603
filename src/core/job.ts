// One run of `compute` or `batch`: read -> check gaps -> compute (off the main thread, into one
// reused buffer) -> write (atomically). Memory is bounded by one chunk whatever the input length.
import { promises as fs } from 'node:fs'
import { extname } from 'node:path'

import * as arrow from 'apache-arrow'

import { type KernelName, TrendflexStream } from '../index.js'
import { csvQuote, cellText, float64Data } from '../io/columns.js'
import { type InputChunk, openInput } from '../io/input.js'
import { AtomicFile, writeAll } from '../io/output.js'
import { type Compression, verifyParquet, writeParquet } from '../io/parquet.js'
import { Progress } from '../io/progress.js'
import { dataError, toCliError, usageError } from './errors.js'
import { reportTimings, stopwatch } from './timings.js'

export type Gaps = 'error' | 'propagate' | 'ffill'
export type Format = 'csv' | 'parquet'

export interface JobOptions {
  command: 'compute' | 'batch'
  input: string
  periods: number[]
  column: string
  keep: string[]
  output: string
  format?: Format
  kernel: KernelName
  threads: number
  gaps: Gaps
  compression: Compression
  /** Rows per chunk and Parquet row group; default `chunkRows(periods)`. */
  chunkRows?: number
  progress: boolean
  version: string
}

export interface JobResult {
  rows: number
  kernel: string
  format: Format
}

/** Output rows per chunk (and per Parquet row group): about 24 MiB of results per chunk, the
 * fastest and leanest size measured for 227 periods x 1M rows (bench/RESULTS.md). */
export function chunkRows(periods: number): number {
  const rows = Math.floor((24 << 20) / (8 * periods))
  return Math.max(4096, Math.min(1 << 18, rows - (rows % 64)))
}

/** Values in one chunk's result buffer at most (1 GiB of f64) when `--chunk-rows` sets it. */
const MAX_CHUNK_VALUES = 2 ** 27

export function outputFormat(output: string, format: Format | undefined): Format {
  if (format) return format
  if (output === '-') return 'csv'
  const ext = extname(output).toLowerCase()
  if (ext === '.parquet' || ext === '.pq') return 'parquet'
  if (ext === '.csv') return 'csv'
  throw usageError(`cannot tell the output format from '${output}': name it .parquet or .csv, or give --format`)
}

/** Tracks what `--gaps` needs across chunks and applies it to each chunk's prices in place. */
class GapPolicy {
  /** Row of the first valid price (-1 until seen). */
  firstValid = -1
  /** Row of the first missing price after it (propagate mode), or Infinity. */
  firstGap = Infinity
  #last = NaN

  constructor(readonly mode: Gaps) {}

  /** True once `rows` rows run more than `period` past the first valid price: from then on no
   * period can fail for lack of data (the core counts the same way), so output may start. */
  enough(rows: number, period: number): boolean {
    return this.firstValid >= 0 && rows - this.firstValid > period
  }

  /** Rows `[from, to)` (whole-input indices) where `period` has a value: after the warm-up and
   * before a propagated gap. The rest is null in Parquet and empty in CSV. */
  validRows(period: number): [number, number] {
    return [this.firstValid < 0 ? Infinity : this.firstValid + period, this.firstGap]
  }

  apply(chunk: InputChunk): void {
    const p = chunk.prices
    for (let i = 0; i < p.length; i++) {
      const x = p[i]!
      if (!Number.isNaN(x)) {
        if (this.firstValid < 0) this.firstValid = chunk.firstRow + i
        this.#last = x
        continue
      }
      if (this.firstValid < 0) continue // leading missing prices are always fine
      if (this.mode === 'error') {
        throw dataError(`${chunk.where(i)}: missing price after the first valid one (--gaps error); use --gaps ffill to carry the last price forward, or --gaps propagate`)
      }
      if (this.mode === 'ffill') p[i] = this.#last
      else if (this.firstGap === Infinity) this.firstGap = chunk.firstRow + i
    }
  }
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  const started = performance.now()
  const format = outputFormat(o.output, o.format)
  if (format === 'parquet' && o.output === '-' && process.stdout.isTTY) {
    throw usageError('refusing to write binary Parquet to a terminal: redirect stdout, or give --output FILE.parquet (or --format csv)')
  }
  let stream: TrendflexStream
  try {
    stream = new TrendflexStream(o.periods.length === 1 ? o.periods[0]! : o.periods, { kernel: o.kernel, threads: o.threads })
  } catch (error) {
    throw toCliError(error)
  }
  const twice = o.periods.find((p, i) => o.periods.indexOf(p) !== i)
  if (twice !== undefined) throw usageError(`--periods lists ${twice} twice: every output column must have its own name`)
  const file = o.output === '-' ? undefined : new AtomicFile(o.output)
  await file?.check()
  const progress = new Progress(o.progress)
  try {
    const opening = stopwatch('open_input')
    const source = await openInput(o.input, { column: o.column, keep: o.keep })
    opening()
    progress.start(source.totalRows)
    const rows = o.chunkRows ?? chunkRows(o.periods.length)
    if (o.chunkRows !== undefined && rows * o.periods.length > MAX_CHUNK_VALUES) {
      throw usageError(`--chunk-rows ${rows} with ${o.periods.length} periods needs ${((rows * o.periods.length * 8) / 2 ** 30).toFixed(1)} GiB per chunk; keep it under 1 GiB (${Math.floor(MAX_CHUNK_VALUES / o.periods.length)} rows here)`)
    }
    const out = new Float64Array(rows * o.periods.length)
    const gaps = new GapPolicy(o.gaps)
    const chunks = source.chunks(rows)
    const maxPeriod = Math.max(...o.periods)
    let total = 0
    /** Output is held back until no period can still fail for lack of data (see `enough`). */
    const established = () => gaps.enough(total, maxPeriod)

    /** The next chunk, computed into `out`; at the end, the whole-series checks. */
    const next = async (): Promise<{ chunk: InputChunk; values: Float64Array } | undefined> => {
      const reading = stopwatch('read')
      const r = await chunks.next()
      reading()
      if (r.done) {
        stream.finish()
        return undefined
      }
      const checking = stopwatch('gaps')
      gaps.apply(r.value)
      checking()
      progress.read(r.value.firstRow + r.value.prices.length)
      const computing = stopwatch('compute_wait')
      const values = await stream.pushAsync(r.value.prices, out)
      computing()
      total = r.value.firstRow + r.value.prices.length
      progress.computed(total)
      return { chunk: r.value, values }
    }

    const names = o.periods.map((p) => `trendflex_${p}`)
    const clash = source.keep.find((k) => names.includes(k) || source.keep.indexOf(k) !== source.keep.lastIndexOf(k))
    if (clash) throw usageError(`output column '${clash}' would appear twice: --keep it under another name, or drop it`)
    const metadata = {
      trendflex: JSON.stringify({
        tool: 'trendflex',
        version: o.version,
        flavour: 'vectorta',
        command: o.command,
        periods: o.periods,
        column: source.column,
        kernel: stream.kernel,
        rows: source.totalRows ?? null,
        gaps: o.gaps,
        input: source.name,
      }),
    }
    if (format === 'parquet') {
      let schema: arrow.Schema | undefined
      const nextBatch = async () => {
        const c = await next()
        if (!c) return undefined
        const building = stopwatch('arrow')
        const n = c.chunk.prices.length
        const first = c.chunk.firstRow
        const columns: arrow.Data[] = [
          ...c.chunk.keep.map((v) => v.data[0]!),
          ...o.periods.map((p, r) => {
            const [from, to] = gaps.validRows(p)
            return float64Data(c.values.subarray(r * n, (r + 1) * n), from - first, to - first)
          }),
        ]
        schema ??= new arrow.Schema([
          ...source.keep.map((k, i) => new arrow.Field(k, columns[i]!.type, true)),
          ...names.map((name) => new arrow.Field(name, new arrow.Float64(), true)),
        ])
        const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: columns })
        building()
        return new arrow.RecordBatch(schema, struct)
      }
      const options = { compression: o.compression, floatColumns: names, metadata, rowGroupRows: rows }
      const written = await writeParquet(file ? { path: file.temp } : { stdout: process.stdout }, nextBatch, options, established, (n) => progress.written(n))
      const verifying = stopwatch('verify')
      if (file) await verifyParquet(file.temp, written.rows)
      verifying()
    } else {
      await writeCsv(file?.temp, next, source.keep, names, gaps, o.periods, established, (n) => progress.written(n))
    }
    await file?.commit()
    progress.stop()
    reportTimings({ startup: started, job: performance.now() - started })
    return { rows: total, kernel: stream.kernel, format }
  } catch (error) {
    progress.stop()
    await file?.discard()
    throw toCliError(error)
  }
}

/** CSV output: keep columns, then one column per period; missing values are empty fields;
 * numbers print in the shortest form that reads back to the same f64. */
async function writeCsv(
  path: string | undefined,
  next: () => Promise<{ chunk: InputChunk; values: Float64Array } | undefined>,
  keep: string[],
  names: string[],
  gaps: GapPolicy,
  periods: number[],
  established: () => boolean,
  onWritten: (rows: number) => void,
): Promise<void> {
  const fh = path ? await fs.open(path, 'w') : undefined
  const encoder = new TextEncoder()
  const emit = async (text: string) => {
    if (fh) await writeAll(fh, encoder.encode(text))
    else if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve))
  }
  const held: string[] = []
  const send = async (text: string) => {
    held.push(text)
    if (!established()) return
    await emit(held.join(''))
    held.length = 0
  }
  try {
    await send([...keep.map(csvQuote), ...names].join(',') + '\n')
    let rows = 0
    for (let c = await next(); c; c = await next()) {
      const n = c.chunk.prices.length
      const lines: string[] = new Array(n)
      const valid = periods.map((p) => gaps.validRows(p))
      for (let i = 0; i < n; i++) {
        const row = c.chunk.firstRow + i
        const fields = c.chunk.keep.map((v) => cellText(v, i))
        for (let r = 0; r < periods.length; r++) {
          const v = c.values[r * n + i]!
          const [from, to] = valid[r]!
          const missing = row < from || row >= to || Number.isNaN(v)
          fields.push(missing ? '' : Object.is(v, -0) ? '-0' : String(v)) // String(-0) is "0"
        }
        lines[i] = fields.join(',')
      }
      await send(lines.join('\n') + '\n')
      rows += n
      onWritten(rows)
    }
    if (held.length) await emit(held.join('')) // the end: the checks passed (next() ran them)
  } finally {
    await fh?.close()
  }
}
