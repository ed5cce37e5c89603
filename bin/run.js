#!/usr/bin/env node
// Entry point. A closed pipe (`| head`) ends quietly; Ctrl-C exits 130 (temporary output files
// are removed by the exit hook in src/io/output.ts).
import { execute } from '@oclif/core'

process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})
process.on('SIGINT', () => process.exit(130))

await execute({ dir: import.meta.url })
