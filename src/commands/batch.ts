import { Args, Flags } from '@oclif/core'

import { JobCommand, commonFlags } from '../core/command.js'
import { parsePeriods } from '../core/periods.js'

export default class Batch extends JobCommand {
  static override summary = 'TrendFlex of a whole grid of periods at once, one column per period.'
  static override description = `Computes every period of the grid over one price column in a single pass per chunk, with SIMD lanes running several periods side by side, and writes columns trendflex_<P> in period order (--keep columns first). Memory stays bounded whatever the input length: the kernel computes one chunk while the native writer encodes the other (Parquet: into row groups of whole chunks, columns encoded in parallel). A file is replaced only once it is complete and checked.`
  static override examples = [
    { description: 'Periods 5 to 231 to Parquet', command: '<%= config.bin %> <%= command.id %> prices.parquet --periods 5:231 -o grid.parquet' },
    { description: 'Every 10th period from 10 to 200, on 2 threads', command: '<%= config.bin %> <%= command.id %> prices.csv --periods 10:200:10 --threads 2 -o grid.parquet' },
    { description: 'A list of periods to CSV on stdout', command: '<%= config.bin %> <%= command.id %> prices.csv --periods 10,20,50 --keep ts' },
    { description: 'An Arrow IPC stream into polars, through a pipe', command: '<%= config.bin %> <%= command.id %> prices.csv --periods 5:231 --keep ts -f arrow | python -c "import sys, polars as pl; print(pl.read_ipc_stream(sys.stdin.buffer))"' },
  ]
  static override args = {
    inputs: Args.string({ multiple: true, description: 'Price files: CSV or TSV (also .gz, .zst), Parquet or Arrow IPC; the contents, not the names, tell which. Several files, a quoted glob (\'data/*.parquet\') or a hive-partitioned directory (data/ with symbol=AAPL/... folders, whose values become columns) are read in order as one table. - or none: stdin.', required: false, ignoreStdin: true }),
  }
  static override flags = {
    periods: Flags.custom<number[]>({ required: true, helpValue: 'START:END[:STEP]|P1,P2,...', description: 'Period grid: a range (5:231, 10:200:10) or a list (10,20,50).', parse: async (input) => parsePeriods(input) })(),
    threads: Flags.integer({ default: 0, min: 0, helpValue: 'N', description: 'Worker threads (0 = all cores).' }),
    ...commonFlags,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Batch)
    await this.runJob(this.jobOptions('batch', args.inputs ?? [], flags.periods, flags, flags.threads))
  }
}
