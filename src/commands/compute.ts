import { Args, Flags } from '@oclif/core'

import { JobCommand, commonFlags } from '../core/command.js'

export default class Compute extends JobCommand {
  static override summary = 'TrendFlex of one period over a price column.'
  static override description = `Reads prices from CSV (also .gz, .zst), Parquet or Arrow IPC files, or stdin, and writes one column trendflex_<N> with as many rows as the input. Several files, a glob or a hive-partitioned directory are one table; --group-by gives every symbol its own series. Warm-up rows (the first valid price plus N) are empty in CSV and null in Parquet and Arrow. Results are bit-identical to VectorTA's trendflex; --flavor ehlers computes Ehlers' own EasyLanguage instead.`
  static override examples = [
    { description: 'Period 20 over the close column, CSV to stdout', command: '<%= config.bin %> <%= command.id %> prices.csv' },
    { description: 'Keep the timestamp, write Parquet', command: '<%= config.bin %> <%= command.id %> prices.parquet -p 50 --keep ts -o tf50.parquet' },
    { description: 'A long table of many symbols, each its own series, into one folder per symbol', command: "<%= config.bin %> <%= command.id %> 'data/*.parquet' --group-by symbol --keep ts --partition-by symbol -o out" },
    { description: 'In a pipeline, column "2" of a headered CSV', command: 'cat prices.csv | <%= config.bin %> <%= command.id %> -c 2 -p 20 | head' },
  ]
  static override args = {
    inputs: Args.string({ multiple: true, description: 'Price files: CSV or TSV (also .gz, .zst), Parquet or Arrow IPC; the contents, not the names, tell which. Several files, a quoted glob (\'data/*.parquet\') or a hive-partitioned directory (data/ with symbol=AAPL/... folders, whose values become columns) are read in order as one table. - or none: stdin.', required: false, ignoreStdin: true }),
  }
  static override flags = {
    period: Flags.integer({ char: 'p', default: 20, min: 2, max: 4294967295, helpValue: 'N', description: 'TrendFlex period, from 2 to 4294967295 (and less than the number of valid prices).' }),
    ...commonFlags,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Compute)
    await this.runJob(this.jobOptions('compute', args.inputs ?? [], [flags.period], flags, 1))
  }
}
