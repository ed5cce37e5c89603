// What bin/run.js needs, in one module that scripts/bundle.mjs bundles with @oclif/core into
// dist/cli.bundle.js: one file to load instead of about 120 (oclif and its dependencies, and
// ours), which takes a fifth off every command's start. oclif finds the commands through
// `COMMANDS` (package.json: oclif.commands, the "explicit" strategy), in the same bundle.
import Batch from './commands/batch.js'
import Compute from './commands/compute.js'
import Kernels from './commands/kernels.js'

export { execute } from '@oclif/core'
export { interrupt } from './io/interrupt.js'
export { versionReport } from './version.js'

export const COMMANDS = { batch: Batch, compute: Compute, kernels: Kernels }
