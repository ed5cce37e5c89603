import { Args, Flags } from '@oclif/core'

import { JobCommand, commonFlags } from '../core/command.js'

export default class Compute extends JobCommand {
  static override summary = 'TrendFlex of one period over a price column.'
  static override description = `Reads prices from a CSV (also .csv.gz) or Parquet file, or stdin, and writes one column trendflex_<N> with as many rows as the input. Warm-up rows (the first valid price plus N) are empty in CSV and null in Parquet and Arrow. Results are bit-identical to VectorTA's trendflex; --flavor ehlers computes Ehlers' own EasyLanguage instead.`
  static override examples = [
    { description: 'Period 20 over the close column, CSV to stdout', command: '<%= config.bin %> <%= command.id %> prices.csv' },
    { description: 'Keep the timestamp, write Parquet', command: '<%= config.bin %> <%= command.id %> prices.parquet -p 50 --keep ts -o tf50.parquet' },
    { description: 'In a pipeline, column "2" of a headered CSV', command: 'cat prices.csv | <%= config.bin %> <%= command.id %> -c 2 -p 20 | head' },
  ]
  static override args = {
    input: Args.string({ description: 'Price file: CSV or TSV (also .gz, .zst), or Parquet; - or omitted reads stdin. The contents, not the name, tell which.', required: false, ignoreStdin: true }),
  }
  static override flags = {
    period: Flags.integer({ char: 'p', default: 20, min: 2, max: 4294967295, helpValue: 'N', description: 'TrendFlex period, from 2 to 4294967295 (and less than the number of valid prices).' }),
    ...commonFlags,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Compute)
    await this.runJob(this.jobOptions('compute', args.input, [flags.period], flags, 1))
  }
}
