// The job's chunks, below the binding: the addon's job reads the source, computes (one series,
// or every group of a table) and writes, on threads of its own; no chunk crosses into JS. What
// stays here is what JS is for: the options, progress, the output's metadata and the messages.
import type { JobRun, NativeJob, WriterOptions as NativeWriterOptions, WriteSummary } from '../../native/node/binding.cjs'
import type { FlavorName, KernelName } from '../compute.js'
import { dataError, usageError } from '../errors.js'
import type { Gaps, InputSource } from '../io/readers/index.js'
import type { Progress } from '../io/progress.js'
import type { Sink } from '../io/sink.js'
import { type Compression, type FloatEncoding, type Format, FORMATS } from '../io/writers/index.js'
import { native } from '../native.js'

export interface PipelineOptions {
  periods: number[]
  resultNames: string[]
  kernel: KernelName
  flavor: FlavorName
  threads: number
  chunkRows: number
  /** Rows a chunk may grow to, where longer chunks save much time (a grid over the groups of an
   * interleaved table). */
  mostChunkRows: number
  /** A live feed: every row out as it comes, and a signal ends it as the end of its input. */
  follow: boolean
  /** The input, for messages. */
  name: string
  /** Every group its own series (`--group-by`; no keys: one series kept as one group, for
   * `--state`, `--resume` and `--follow`). */
  groups?: {
    /** The group columns: the first keep columns. */
    keys: string[]
    gaps: Gaps
    /** The price column, as the input names it (recorded in a state). */
    column: string
    /** A group too short for a period is an error, not nulls. */
    strict: boolean
    /** Name rows by their input lines (one CSV input). */
    lines: boolean
    /** A state file to continue from (`--resume`). */
    resume?: { path: string; bytes: Buffer }
  }
}

/** How the output is written. */
export interface WriterOptions {
  compression: Compression
  floatEncoding: FloatEncoding
  /** Key-value metadata: Parquet's footer, Arrow's schema. */
  metadata: Record<string, string>
  /** Parquet's `created_by`. */
  createdBy: string
  /** Parquet: rows per row group, made of whole chunks. */
  rowGroupRows: number
  /** Parquet into `sink.dir`: a dataset with a folder per value of these columns. */
  partitionBy?: string[]
}

/** How often the progress bars are told how far the job is. */
const PROGRESS_MS = 200

/** Groups listed by name in the warning about short groups, at most. */
const LISTED_GROUPS = 3

export class Pipeline {
  readonly #job: NativeJob
  /** A stream cannot take output back: it is held until nothing can fail for lack of data (a
   * live feed: every row goes out as it comes). */
  readonly #hold: boolean

  constructor(
    source: InputSource,
    readonly o: PipelineOptions,
    readonly format: Format,
    readonly sink: Sink,
  ) {
    const g = o.groups
    this.#hold = sink.stream && !o.follow
    this.#job = new (native().NativeJob)(source.handle, {
      periods: o.periods,
      kernel: o.kernel,
      flavor: o.flavor,
      threads: o.threads,
      chunkRows: o.chunkRows,
      mostChunkRows: o.mostChunkRows,
      keepNames: source.keep,
      resultNames: o.resultNames,
      holdUntilSettled: this.#hold,
      follow: o.follow,
      groups: g && { keys: g.keys, gaps: g.gaps, column: g.column, state: g.resume?.bytes, strict: Boolean(g.strict), lines: g.lines },
    })
  }

  get kernel(): string {
    return this.#job.kernel
  }

  /** Reads the whole input through the kernels into the output. */
  async run(writer: WriterOptions, progress: Progress): Promise<JobRun> {
    const tick = () => {
      const p = this.#job.progress()
      progress.read(p.rowsRead, p.bytesRead)
      progress.computed(p.rowsComputed)
      progress.written(p.rowsWritten)
    }
    const timer = progress.enabled ? setInterval(tick, PROGRESS_MS) : undefined
    timer?.unref()
    try {
      return await this.#job.runAsync(this.sink.fd, this.#writerOptions(writer))
    } catch (error) {
      throw this.#error(error)
    } finally {
      clearInterval(timer)
      tick()
    }
  }

  /** The addon's writer options for this job's format and sink. */
  #writerOptions(o: WriterOptions): NativeWriterOptions {
    return {
      format: this.format,
      compression: o.compression,
      floatEncoding: o.floatEncoding,
      hold: this.#hold,
      // A live feed: each chunk reaches the output as soon as it is written.
      flush: this.o.follow,
      // Past the page cache, whose copying costs the encoders CPU (see the addon's sink); not for a
      // live feed, whose small flushes direct I/O cannot write.
      direct: !this.sink.stream && !this.o.follow,
      createdBy: o.createdBy,
      rowGroupRows: o.rowGroupRows,
      metadata: FORMATS[this.format].metadataAtFinish ? undefined : o.metadata,
      name: this.sink.name,
      partitionDir: this.sink.dir,
      partitionBy: o.partitionBy,
    }
  }

  #error(error: unknown): unknown {
    const e = error as { code?: string; message?: string }
    const message = e?.message ?? String(error)
    const resume = this.o.groups?.resume
    // A state of another job is a usage mistake (exit 2); a damaged or foreign file, bad data.
    if (resume && e?.code === 'ERR_STATE_MISMATCH') return usageError(`--resume ${resume.path}: ${message}`)
    if (resume && e?.code?.startsWith('ERR_STATE')) return dataError(`--resume ${resume.path}: ${message}`)
    // The input's errors name it (an output's name the output): bad data, exit 1.
    if (e?.code === 'ERR_INPUT' || e?.code === 'ENOENT') return dataError(message)
    return error
  }

  /** The whole-input checks, once the input has ended: throws, or returns a warning (or nothing). */
  finish(rows: number): string | undefined {
    const g = this.o.groups
    if (!g) {
      // One series: no price, or too few for a period, is an error.
      if (rows > 0) this.#job.finish()
      return undefined
    }
    const short = this.#job.finish()
    if (!short.length) return undefined
    const first = short[0]!
    if (!g.keys.length) {
      // One series, computed as one group for --state: too few prices so far is nulls and a
      // warning, since a later --resume continues it.
      if (g.strict) throw dataError(`${this.o.name}: ${first.reason} (--strict)`)
      return `${first.reason}: its outputs are null until it has${g.resume ? '' : ' (a later --resume continues the series)'}`
    }
    if (g.strict) throw dataError(`${first.name}: ${first.reason} (--strict)`)
    const listed = short.slice(0, LISTED_GROUPS).map((s) => `${s.name} (${s.reason})`)
    const more = short.length > LISTED_GROUPS ? `, and ${short.length - LISTED_GROUPS} more` : ''
    return `${short.length} of ${this.#job.groups} groups lack data for some periods, which are null there: ${listed.join('; ')}${more}. --strict makes this an error`
  }

  /** For the output's metadata; `final`: the input has ended. */
  metadata(final: boolean): Record<string, unknown> {
    const keys = this.o.groups?.keys ?? []
    if (!keys.length) return {}
    return { group_by: keys, groups: final ? this.#job.groups : null }
  }

  /** The bytes of a state file with every series' state (`--state`), once a row was read. */
  saveState(): Buffer | undefined {
    return this.#job.saveState() ?? undefined
  }

  /** The output writer's end: finish (with the metadata), verify, or abort. */
  get writer(): { finish(metadata: Record<string, string>): Promise<WriteSummary>; verify(fd: number, summary: WriteSummary): Promise<void>; abort(): void } {
    const { format, sink } = this
    return {
      // Parquet takes its metadata in the footer, at the end; Arrow took it with its schema.
      finish: (metadata) => this.#job.finishAsync(FORMATS[format].metadataAtFinish ? metadata : {}),
      // A dataset's files were read back as they were finished.
      verify: (fd, summary) => (sink.dir ? Promise.resolve() : native().verifyOutput(fd, summary, sink.name)),
      abort: () => this.#job.abort(),
    }
  }
}
