import { Command, Flags } from '@oclif/core'

import { kernels } from '../compute.js'

export default class Kernels extends Command {
  static override summary = 'Kernels this CPU runs, which one auto picks, and why.'
  static override description = 'All kernels give bit-identical results; they differ in speed and in the CPU features they need. TRENDFLEX_KERNEL=scalar|avx2|avx512 overrides what auto picks.'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']
  static override flags = { json: Flags.boolean({ description: 'Print JSON.' }) }

  async run(): Promise<void> {
    const { flags } = await this.parse(Kernels)
    let info
    try {
      info = kernels()
    } catch (error) {
      process.stderr.write(`trendflex: ${(error as Error).message}\n`)
      return this.exit(2)
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(info, null, 2) + '\n')
      return
    }
    const why = info.envOverride ? `TRENDFLEX_KERNEL=${info.envOverride}` : 'the fastest this CPU runs'
    const lines = [
      `available: ${info.available.join(', ')}`,
      `auto:      ${info.auto} (${why})`,
      `cpu:       ${info.features.join(', ') || 'none of avx2, fma, avx512f'}`,
      ...info.unavailable.map((u) => `missing:   ${u.name} needs ${u.missing}`),
    ]
    process.stdout.write(lines.join('\n') + '\n')
  }
}
