// The base of `compute` and `batch`: shared flags, and the one place errors become exit codes.
import { Command, Flags } from '@oclif/core'

import { FLAVOR_NAMES, type FlavorName, KERNEL_NAMES, type KernelName } from '../compute.js'
import { BrokenPipe, CliError, EXIT, Interrupted, usageError } from '../errors.js'
import type { KeepRequest } from '../io/readers/source.js'
import { COMPRESSIONS, type Compression, FLOAT_ENCODINGS, type FloatEncoding } from '../io/writers/parquet.js'
import type { Format, Gaps, JobOptions } from './job.js'

/** `--delimiter`: `\t` and `tab` spell a tab; what a delimiter may be, the reader checks. */
function delimiter(text: string): string {
  return { '\\t': '\t', tab: '\t', TAB: '\t' }[text] ?? text
}

/** `--keep COL[:TYPE]`: a column, and its type when the sample should not decide it. */
function keepRequest(text: string): KeepRequest {
  const at = text.lastIndexOf(':')
  const type = at > 0 ? text.slice(at + 1).trim().toLowerCase() : ''
  const types: Record<string, KeepRequest['type']> = { int64: 'int64', int: 'int64', integer: 'int64', float64: 'float64', float: 'float64', number: 'float64', text: 'text', string: 'text' }
  if (at > 0 && types[type]) return { name: text.slice(0, at), type: types[type] }
  return { name: text }
}

export const commonFlags = {
  help: Flags.help({ char: 'h', description: 'Show this help.' }),
  column: Flags.string({ char: 'c', default: 'close', helpValue: 'NAME|N', description: 'Price column: an exact header match first, then a case-insensitive one; with --no-header, its position (1 = first).' }),
  delimiter: Flags.string({ char: 'd', helpValue: 'CHAR', description: 'Field delimiter of CSV input: one character, or \\t for a tab. Default: tab for .tsv/.tab names, else a comma.' }),
  header: Flags.boolean({ default: true, allowNo: true, description: 'The CSV input starts with a header line. --no-header: it does not; name columns by position (-c 2 --keep 1).' }),
  output: Flags.string({ char: 'o', default: '-', helpValue: 'PATH|-', description: 'Where to write: a .parquet, .csv or .arrow file (replaced only once complete and checked), a FIFO or device (written as a stream), or - for stdout.' }),
  format: Flags.string({ char: 'f', options: ['parquet', 'csv', 'arrow'], description: 'Output format (arrow = an Arrow IPC stream). Default: from the output name (.parquet, .csv, .arrow); otherwise csv.' }),
  kernel: Flags.string({ char: 'k', options: [...KERNEL_NAMES], helpValue: 'auto|scalar|avx2|avx512', description: 'Kernel. Default: TRENDFLEX_KERNEL, else auto, the fastest this CPU runs (see `trendflex kernels`). All give identical results.' }),
  flavor: Flags.string({ options: [...FLAVOR_NAMES], default: 'vectorta', description: "Definition computed: vectorta, bit-identical to VectorTA; or ehlers, Ehlers' EasyLanguage as TradeStation runs it (P = L/2 unrounded, zero-seeded filter). See the README's Flavours." }),
  keep: Flags.string({ multiple: true, multipleNonGreedy: true, delimiter: ',', helpValue: 'COL[:TYPE][,...]', description: 'Input columns to copy through to the output, in front (e.g. a timestamp). CSV columns are typed int64, float64 or text from their first 100,000 rows, or as declared (ts:int64, volume:float64, id:text); into CSV output they go as written.' }),
  'group-by': Flags.string({ multiple: true, multipleNonGreedy: true, delimiter: ',', helpValue: 'COL[,COL...]', description: 'Columns whose values split the rows into series of their own (e.g. a symbol): each group gets its own TrendFlex, bit-identical to running it alone, in input order, group columns first. Groups may be stacked or interleaved.' }),
  strict: Flags.boolean({ description: 'With --group-by: a group too short for a period is an error, instead of nulls and a warning.' }),
  'partition-by': Flags.string({ multiple: true, multipleNonGreedy: true, delimiter: ',', helpValue: 'COL[,COL...]', description: "Write a hive-partitioned Parquet dataset into the directory --output names: a folder per value (symbol=AAPL/part-0.parquet), the column left out of the files as Hive does. Read it with DuckDB read_parquet('DIR/**/*.parquet', hive_partitioning = true), pyarrow.dataset or polars.scan_parquet. The directory must be new or empty; it appears whole or not at all." }),
  gaps: Flags.string({ options: ['error', 'propagate', 'ffill'], default: 'error', description: 'A missing price after the first valid one: error names its row; propagate gives NaN from there on (VectorTA); ffill carries the last price forward. Leading missing prices are always allowed.' }),
  compression: Flags.string({ options: [...COMPRESSIONS], default: 'lz4', description: 'Parquet compression (lz4 = LZ4_RAW). See the README for the measured trade-off.' }),
  'float-encoding': Flags.string({ options: [...FLOAT_ENCODINGS], default: 'plain', description: "How Parquet stores the result floats: plain, which every reader opens, or byte-stream-split, smaller with compression (lz4: about 14%) but not opened by Spark 4.1's default reader. See the README's Parquet." }),
  'chunk-rows': Flags.integer({ min: 1, helpValue: 'N', description: 'Rows computed and written at a time. Default: about 24 MiB of results per chunk (13,824 rows for 227 periods), the fastest measured, and twice that for --group-by over an interleaved table whose groups have several rows per chunk (each group\'s state is then fetched half as often); memory grows with it.' }),
  'row-group-rows': Flags.integer({ min: 1, helpValue: 'N', description: 'Rows per Parquet row group, made of whole chunks. Default: about 70-80 MiB of results (41,472 rows for 227 periods), at most 1,048,576; memory grows with it.' }),
  progress: Flags.boolean({ allowNo: true, description: 'Progress bars on stderr. Default: on when stderr is a terminal.' }),
  state: Flags.string({ helpValue: 'FILE', description: "At the end, save what every series (every group with --group-by) needs to continue bit for bit to FILE (about 9 KB per group for 5:231), replaced only once the output is complete. FILE may be --resume's own file. An existing FILE that is not a trendflex state is never replaced." }),
  follow: Flags.boolean({ description: 'A live feed (a pipe, FIFO or socket, as tail -f gives): each row is computed, written and flushed as soon as its line is complete, CSV or Arrow IPC output (a record batch per flush). Ctrl-C or SIGTERM ends it after writing every row read and saving --state (exit 130 or 143). Keep columns are typed from the first row: declare them (--keep ts:int64) to be sure.' }),
  resume: Flags.string({ helpValue: 'FILE', description: "Continue from a --state FILE: the input holds only new rows, and the output, only theirs, equal bit for bit to the tail of one run over all rows. Needs the same periods, --flavor, --gaps, price column and --group-by (else exit 2, naming the difference). New groups start fresh; groups absent from the input carry over into --state." }),
}

type CommonFlags = {
  column: string
  delimiter?: string
  header: boolean
  output: string
  format?: string
  kernel?: string
  flavor: string
  keep?: string[]
  'group-by'?: string[]
  strict: boolean
  'partition-by'?: string[]
  gaps: string
  compression: string
  'float-encoding': string
  'chunk-rows'?: number
  'row-group-rows'?: number
  progress?: boolean
  state?: string
  resume?: string
  follow: boolean
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
  protected jobOptions(command: JobOptions['command'], inputs: string[], periods: number[], flags: CommonFlags, threads: number): JobOptions {
    return {
      command,
      inputs,
      periods,
      column: flags.column,
      keep: (flags.keep ?? []).map(keepRequest),
      delimiter: flags.delimiter === undefined ? undefined : delimiter(flags.delimiter),
      header: flags.header,
      groupBy: flags['group-by'] ?? [],
      strict: flags.strict,
      partitionBy: flags['partition-by'] ?? [],
      output: flags.output,
      format: flags.format as Format | undefined,
      // auto: TRENDFLEX_KERNEL, else the fastest (the addon reads the variable).
      kernel: (flags.kernel as KernelName | undefined) ?? 'auto',
      flavor: flags.flavor as FlavorName,
      threads,
      gaps: flags.gaps as Gaps,
      compression: flags.compression as Compression,
      floatEncoding: flags['float-encoding'] as FloatEncoding,
      chunkRows: flags['chunk-rows'],
      rowGroupRows: flags['row-group-rows'],
      progress: flags.progress ?? Boolean(process.stderr.isTTY),
      state: flags.state,
      resume: flags.resume,
      follow: flags.follow,
      version: this.config.version,
    }
  }

  protected async runJob(options: JobOptions): Promise<void> {
    const { runJob } = await import('./job.js') // the addon loads only here
    await runJob(options)
  }

  override async catch(error: Error & { exitCode?: number }): Promise<unknown> {
    if (error instanceof BrokenPipe) return this.exit(EXIT.ok) // `| head`: the reader is done
    // A signal ended a --follow session cleanly. A read may still wait on the feed in a worker
    // thread, which would keep Node alive: exit now.
    if (error instanceof Interrupted) process.exit(error.exitCode)
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
