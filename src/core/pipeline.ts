// One series computed below the binding: the addon's job reads the source, computes and writes
// on threads of its own, and no chunk crosses into JS. What stays here is what JS is for: the
// options, progress, the output's metadata and the messages.
import type { JobRun, NativeJob } from '../../native/node/binding.cjs'
import { dataError } from '../errors.js'
import type { InputSource } from '../io/readers/index.js'
import type { Progress } from '../io/progress.js'
import type { Sink } from '../io/sink.js'
import { type Format, type WriteSummary, type WriterOptions, finishOutput, nativeWriterOptions } from '../io/writers/index.js'
import { native } from '../native.js'
import type { FlavorName, KernelName } from '../compute.js'

export interface PipelineOptions {
  periods: number[]
  resultNames: string[]
  kernel: KernelName
  flavor: FlavorName
  threads: number
  chunkRows: number
}

/** How often the progress bars are told how far the job is. */
const PROGRESS_MS = 200

export class Pipeline {
  readonly #job: NativeJob

  constructor(
    source: InputSource,
    o: PipelineOptions,
    readonly format: Format,
    readonly sink: Sink,
  ) {
    this.#job = new (native().NativeJob)(source.handle, {
      periods: o.periods,
      kernel: o.kernel,
      flavor: o.flavor,
      threads: o.threads,
      chunkRows: o.chunkRows,
      keepNames: source.keep,
      resultNames: o.resultNames,
      // A stream cannot take output back: it waits until no period can fail for lack of data.
      holdUntilSettled: sink.stream,
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
      return await this.#job.runAsync(this.sink.fd, nativeWriterOptions(this.format, this.sink, writer))
    } catch (error) {
      const e = error as { code?: string; message?: string }
      // The input's errors name it (an output's name the output): bad data, exit 1.
      if (e?.code === 'ERR_INPUT' || e?.code === 'ENOENT') throw dataError(e.message ?? String(error))
      throw error
    } finally {
      clearInterval(timer)
      tick()
    }
  }

  /** The whole-series checks: throws when the input has no price, or too few for a period. */
  finish(): void {
    this.#job.finish()
  }

  /** The output writer's end: finish (with the metadata), verify, or abort. */
  get writer(): { finish(metadata: Record<string, string>): Promise<WriteSummary>; verify(fd: number, summary: WriteSummary): Promise<void>; abort(): void } {
    return {
      ...finishOutput(this.format, this.sink, (metadata) => this.#job.finishAsync(metadata)),
      abort: () => this.#job.abort(),
    }
  }
}
