// One run of `compute` or `batch`: the options checked, the input resolved and opened, the output
// (and a --state file) opened beside their targets; then the addon's job reads -> computes ->
// writes (./pipeline.ts), and the output and state take their places only once complete.
import { readFileSync, statSync, writeSync } from 'node:fs'

import { Interrupted, dataError, toCliError, usageError } from '../errors.js'
import type { FlavorName, KernelName } from '../compute.js'
import { type Gaps, type KeepRequest, openInput, partitionKeys, resolveInputs } from '../io/readers/index.js'
import { openDatasetSink, openSink, openStateSink } from '../io/sink.js'
import { type Compression, type FloatEncoding, type Format, FORMATS, outputFormat } from '../io/writers/index.js'
import { onInterrupt } from '../io/interrupt.js'
import { Progress } from '../io/progress.js'
import { addTimings, reportTimings, stopwatch } from '../timings.js'
import { Pipeline } from './pipeline.js'

export type { Gaps } from '../io/readers/index.js'
export type { Format } from '../io/writers/index.js'

export interface JobOptions {
  command: 'compute' | 'batch'
  /** Files, globs or hive-partitioned directories, read as one table; none or '-': stdin. */
  inputs: string[]
  periods: number[]
  column: string
  keep: KeepRequest[]
  /** One byte; default from the input's name (tab for .tsv/.tab), else a comma. */
  delimiter?: string
  /** False: the input has no header line; columns are 1-based positions. */
  header: boolean
  /** Columns whose values split the rows into series of their own. */
  groupBy: string[]
  /** A group too short for a period is an error, not nulls. */
  strict: boolean
  /** Write a hive-partitioned dataset into the directory `output`, a folder per value. */
  partitionBy: string[]
  output: string
  format?: Format
  kernel: KernelName
  /** The definition computed: `vectorta` or `ehlers` (README "Flavours"). */
  flavor: FlavorName
  threads: number
  gaps: Gaps
  compression: Compression
  floatEncoding: FloatEncoding
  /** Rows per chunk; default `chunkRows(periods)`. */
  chunkRows?: number
  /** Rows per Parquet row group (whole chunks); default `rowGroupRows(periods)`. */
  rowGroupRows?: number
  progress: boolean
  /** Save every series' state here at the end (`--state`). */
  state?: string
  /** Continue from this state file (`--resume`). */
  resume?: string
  /** A live feed: each row out as soon as its line is complete (`--follow`). */
  follow?: boolean
  version: string
}

export interface JobResult {
  rows: number
  kernel: string
  format: Format
}

/** Output rows per chunk: about 24 MiB of results per chunk, the fastest and leanest size
 * measured for 227 periods x 1M rows (bench/RESULTS.md). */
export function chunkRows(periods: number): number {
  const rows = Math.floor((24 << 20) / (8 * periods))
  return Math.max(4096, Math.min(1 << 18, rows - (rows % 64)))
}

/** Rows per Parquet row group (closed at the first whole chunk past it): 70 MiB of results or a
 * little more (three default chunks), at most 1Mi rows. Two groups are in memory while the writer
 * runs (one appended to the file, the next encoded): with 128 MiB groups the headline grid peaked
 * at 413 MB; with four chunks (88 MiB) at 365 MB, with three 346 MB and 0.92 of the time (the
 * file's direct buffers grown to 24 MB, which cost 14-22 MB more with four). The footer the
 * writer keeps until the end grows by about 1.3 KB per column chunk: with a group per 24 MiB
 * chunk, 5M rows x 227 periods peaked 49% above 1M rows. */
export function rowGroupRows(periods: number): number {
  return Math.min(1 << 20, Math.max(4096, Math.floor((70 << 20) / (8 * periods))))
}

/** Values in one chunk's result buffer at most (1 GiB of f64) when `--chunk-rows` sets it. */
const MAX_CHUNK_VALUES = 2 ** 27

function checkOptions(o: JobOptions): number {
  const rows = o.chunkRows ?? chunkRows(o.periods.length)
  if (o.chunkRows !== undefined && rows * o.periods.length > MAX_CHUNK_VALUES) {
    throw usageError(`--chunk-rows ${rows} with ${o.periods.length} periods needs ${((rows * o.periods.length * 8) / 2 ** 30).toFixed(1)} GiB per chunk; keep it under 1 GiB (${Math.floor(MAX_CHUNK_VALUES / o.periods.length)} rows here)`)
  }
  return rows
}

/** The columns the reader keeps, in output order: the group columns (they lead the output and
 * key the groups), the --keep columns, then partition columns that are neither (read only to
 * name the folders); and where each partition column is among them. */
function keptColumns(o: JobOptions): { keep: KeepRequest[]; partitionAt: number[] } {
  const asked = [...o.groupBy, ...o.keep.map((k) => k.name)]
  const only = o.partitionBy.filter((p) => !asked.includes(p))
  const keep = [...o.groupBy.map((name) => ({ name })), ...o.keep, ...only.map((name) => ({ name }))]
  const names = keep.map((k) => k.name)
  return { keep, partitionAt: o.partitionBy.map((p) => names.indexOf(p)) }
}

/** A --resume file's bytes (checked against the run when the series is made). */
function readState(path: string): { path: string; bytes: Buffer } {
  try {
    return { path, bytes: readFileSync(path) }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'no such file (make one with --state on an earlier run)' : code === 'EISDIR' ? 'is a directory' : (error as Error).message
    throw dataError(`--resume ${path}: ${reason}`)
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at)
}

/** No rows and nothing to resume: there is no series to save. */
function emptyState(o: JobOptions): never {
  throw dataError(`--state ${o.state}: the input has no rows, so there is no series to save (give --resume to carry a state over)`)
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  const started = performance.now()
  const rows = checkOptions(o)
  const { keep, partitionAt } = keptColumns(o)
  const resumed = o.resume === undefined ? undefined : readState(o.resume)
  const format = outputFormat(o.output, o.format, o.partitionBy.length > 0)
  if (o.follow && (format === 'parquet' || o.partitionBy.length)) {
    throw usageError('--follow writes each row as it comes, which Parquet (a file written whole, its footer last) cannot: write -f csv or -f arrow')
  }
  if (o.follow && o.output !== '-' && statSync(o.output, { throwIfNoEntry: false })?.isFile() !== false) {
    // A file named with -o is written beside and appears only once complete: a live session's
    // rows would stay hidden, and be lost with it if it were killed.
    throw usageError(`--follow writes rows as they come: to stdout (redirect it, > ${o.output}, to keep them in a file as they arrive) or to a FIFO, not to a file named with -o, which appears only once complete`)
  }
  const inputs = await resolveInputs(o.inputs)
  const ungrouped = partitionKeys(inputs).filter((k) => !o.groupBy.includes(k))
  if (ungrouped.length) {
    // A dataset split by year is one series; split by symbol it is many. Only the user knows.
    process.stderr.write(`trendflex: warning: the input is partitioned by ${ungrouped.join(', ')}, which --group-by does not name: its partitions are computed as one series, one after another\n`)
  }
  // --resume and --state: every series goes through the grouped streams (one group when not
  // grouped), whose states are saved and restored as a whole.
  const stateful = o.state !== undefined || o.resume !== undefined || Boolean(o.follow)
  const stateSink = o.state === undefined ? undefined : openStateSink(o.state, inputs.identities, o.output)
  let sink: Awaited<ReturnType<typeof openSink>>
  try {
    sink = o.partitionBy.length ? openDatasetSink(o.output, inputs.identities) : await openSink(o.output, inputs.identities)
  } catch (error) {
    stateSink?.discard()
    throw error
  }
  if (FORMATS[format].binary && sink.tty) {
    sink.discard()
    stateSink?.discard()
    throw usageError(`refusing to write binary ${format === 'arrow' ? 'Arrow' : 'Parquet'} to a terminal: redirect stdout, or give --output FILE (or --format csv)`)
  }
  const progress = new Progress(o.progress && !o.follow)
  // A --follow session ends on a signal as at the end of its input (the reads in progress hand
  // out the rows they hold, a line half read is dropped), then exits with the signal's code.
  let stopped: number | undefined
  const unhook = o.follow ? onInterrupt((code) => (stopped = code)) : () => {}
  let writer: Pipeline['writer'] | undefined
  try {
    const opening = stopwatch('open_input')
    const grouped = o.groupBy.length > 0 || stateful
    const source = await openInput(inputs, {
      column: o.column,
      keep,
      delimiter: o.delimiter,
      header: o.header,
      keepAsText: format === 'csv',
      // Grouped, --gaps applies within each group, later.
      gaps: grouped ? 'keep' : o.gaps,
      chunkRows: rows,
      follow: o.follow,
    })
    opening()
    progress.start(source.totalRows, source.inputBytes)
    const names = o.periods.map((p) => `trendflex_${p}`)
    const clash = source.keep.find((k, i) => names.includes(k) || source.keep.indexOf(k) !== i)
    if (clash) throw usageError(`output column '${clash}' would appear twice: --keep it under another name, or drop it`)
    const pipeline = new Pipeline(
      source,
      {
        periods: o.periods,
        resultNames: names,
        kernel: o.kernel,
        flavor: o.flavor,
        threads: o.threads,
        chunkRows: rows,
        // Chunks of the default size may double for a grid over interleaved groups.
        mostChunkRows: o.chunkRows === undefined ? 2 * rows : rows,
        follow: Boolean(o.follow),
        name: inputs.name,
        groups: grouped
          ? {
              keys: o.groupBy,
              gaps: o.gaps,
              column: source.column,
              strict: o.strict,
              // Line numbers name a row in a message; with several files, rows are counted per table.
              lines: inputs.files === 'stdin' || inputs.files.length === 1,
              resume: resumed,
            }
          : undefined,
      },
      format,
      sink,
    )
    const metadata = (total: number | null, final: boolean) => ({
      trendflex: JSON.stringify({
        ...pipeline.metadata(final),
        tool: 'trendflex',
        version: o.version,
        flavour: o.flavor,
        command: o.command,
        periods: o.periods,
        column: source.column,
        kernel: pipeline.kernel,
        rows: total,
        gaps: o.gaps,
        input: source.name,
        ...(o.partitionBy.length ? { partition_by: o.partitionBy } : {}),
      }),
    })
    writer = pipeline.writer
    const run = await pipeline.run(
      {
        compression: o.compression,
        floatEncoding: o.floatEncoding,
        metadata: metadata(source.totalRows ?? null, false),
        createdBy: `trendflex version ${o.version} (build parquet-rs)`,
        rowGroupRows: o.rowGroupRows ?? rowGroupRows(o.periods.length),
        // The partition columns as the input names them (matched like every other column).
        partitionBy: o.partitionBy.length ? partitionAt.map((i) => source.keep[i]!) : undefined,
      },
      progress,
    )
    const total = run.rows
    // An engine's empty partition, or a filter that matched nothing, passes through as an empty
    // result with the output schema; one series read from a file with no rows is a mistake.
    if (total === 0 && !(grouped || source.format === 'arrow')) throw dataError(`${source.name}: empty input: there are no prices to compute on`)
    const warning = pipeline.finish(total) // the whole-input checks: too few prices for a period
    addTimings({ read_wait: run.readWaitMs, compute: run.computeMs, write_wait: run.writeWaitMs })
    const finishing = stopwatch('finish')
    const summary = await writer.finish(metadata(total, true))
    finishing()
    // The state is written in full beside its file first, and takes its place only once the
    // output has: a failed run changes neither.
    if (stateSink) writeAll(stateSink.fd, pipeline.saveState() ?? resumed?.bytes ?? emptyState(o))
    const verifying = stopwatch('verify')
    await sink.commit((fd) => writer!.verify(fd, summary))
    verifying()
    try {
      await stateSink?.commit(async () => {})
    } catch (error) {
      throw dataError(`the output was written, but ${(error as Error).message}; ${o.state} still holds the state from before this run`)
    }
    unhook()
    if (stopped !== undefined) throw new Interrupted(stopped)
    progress.stop()
    if (warning) process.stderr.write(`trendflex: ${warning}\n`)
    reportTimings({ startup: started, job: performance.now() - started })
    return { rows: total, kernel: pipeline.kernel, format }
  } catch (error) {
    unhook()
    if (error instanceof Interrupted) throw error
    progress.stop()
    // Stopped before anything could be read (a feed that never sent its header): the signal,
    // not an empty input, is why.
    const signal = stopped
    // The descriptor may be closed only once no encoder thread can write to it any more, and
    // no read may still be running when the process moves on.
    writer?.abort()
    sink.discard()
    stateSink?.discard()
    if (signal !== undefined) throw new Interrupted(signal)
    throw toCliError(error)
  }
}
