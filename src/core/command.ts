// The base of `compute` and `batch`: shared flags, and the one place errors become exit codes.
import { Command, Flags } from '@oclif/core'

import { KERNEL_NAMES, type KernelName } from '../compute.js'
import { BrokenPipe, CliError, EXIT } from '../errors.js'
import { COMPRESSIONS, type Compression } from '../io/writers/parquet.js'
import type { Format, Gaps, JobOptions } from './job.js'

export const commonFlags = {
  column: Flags.string({ char: 'c', default: 'close', helpValue: 'NAME', description: 'Price column: an exact header match first, then a case-insensitive one.' }),
  output: Flags.string({ char: 'o', default: '-', helpValue: 'PATH|-', description: 'Where to write: a .parquet, .csv or .arrow file (replaced only once complete and checked), a FIFO or device (written as a stream), or - for stdout.' }),
  format: Flags.string({ char: 'f', options: ['parquet', 'csv', 'arrow'], description: 'Output format (arrow = an Arrow IPC stream). Default: from the output name (.parquet, .csv, .arrow); otherwise csv.' }),
  kernel: Flags.string({ char: 'k', options: [...KERNEL_NAMES], default: 'auto', env: 'TRENDFLEX_KERNEL', description: 'Kernel: auto picks the fastest this CPU runs (see `trendflex kernels`). All give identical results.' }),
  keep: Flags.string({ multiple: true, delimiter: ',', helpValue: 'COL[,COL...]', description: 'Input columns to copy through to the output, in front (e.g. a timestamp).' }),
  gaps: Flags.string({ options: ['error', 'propagate', 'ffill'], default: 'error', description: 'A missing price after the first valid one: error names its row; propagate gives NaN from there on (VectorTA); ffill carries the last price forward. Leading missing prices are always allowed.' }),
  compression: Flags.string({ options: [...COMPRESSIONS], default: 'lz4', description: 'Parquet compression (lz4 = LZ4_RAW). See the README for the measured trade-off.' }),
  'chunk-rows': Flags.integer({ min: 1, helpValue: 'N', description: 'Rows per chunk, which is also rows per Parquet row group. Default: about 24 MiB of results per chunk (13,824 rows for 227 periods), the fastest measured; memory grows with it.' }),
  progress: Flags.boolean({ allowNo: true, description: 'Progress bars on stderr. Default: on when stderr is a terminal.' }),
}

type CommonFlags = {
  column: string
  output: string
  format?: string
  kernel: string
  keep?: string[]
  gaps: string
  compression: string
  'chunk-rows'?: number
  progress?: boolean
}

/** oclif wraps flag errors as "Parsing --flag\n\t<message>\nSee more help with --help": one line,
 * "--flag: <message>". */
function oneLine(message: string): string {
  const parsing = /^Parsing (--\S+)$/
  const lines = message.split('\n').map((l) => l.trim())
  const flag = lines.map((l) => parsing.exec(l)?.[1]).find(Boolean)
  const kept = lines.filter((l) => l && !l.startsWith('See more help') && !parsing.test(l)).join(' ') || message.trim()
  return flag && !kept.includes(flag) ? `${flag}: ${kept}` : kept
}

export abstract class JobCommand extends Command {
  /** The job options shared by compute and batch. */
  protected jobOptions(command: JobOptions['command'], input: string | undefined, periods: number[], flags: CommonFlags, threads: number): JobOptions {
    return {
      command,
      input: input ?? '-',
      periods,
      column: flags.column,
      keep: flags.keep ?? [],
      output: flags.output,
      format: flags.format as Format | undefined,
      kernel: flags.kernel as KernelName,
      threads,
      gaps: flags.gaps as Gaps,
      compression: flags.compression as Compression,
      chunkRows: flags['chunk-rows'],
      progress: flags.progress ?? Boolean(process.stderr.isTTY),
      version: this.config.version,
    }
  }

  protected async runJob(options: JobOptions): Promise<void> {
    const { runJob } = await import('./job.js') // arrow and parquet-wasm load only here
    await runJob(options)
  }

  override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (error instanceof BrokenPipe) return this.exit(EXIT.ok) // `| head`: the reader is done
    if (error instanceof CliError) {
      process.stderr.write(`trendflex: ${oneLine(error.message)}\n`)
      if (process.env.DEBUG) process.stderr.write(`${(error.cause as Error | undefined)?.stack ?? error.stack}\n`)
      return this.exit(error.exitCode)
    }
    const oclif = (error as { oclif?: { exit?: number }; code?: string }).oclif
    if ((error as { code?: string }).code === 'EEXIT') throw error // this.exit() itself
    if (oclif) {
      // Flag and argument errors: one line, usage exit code.
      process.stderr.write(`trendflex: ${oneLine(error.message)} (see --help)\n`)
      return this.exit(oclif.exit ?? EXIT.usage)
    }
    process.stderr.write(`trendflex: internal error: ${error.message}\n`)
    if (process.env.DEBUG) process.stderr.write(`${error.stack}\n`)
    return this.exit(EXIT.data)
  }
}
