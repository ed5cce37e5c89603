#!/usr/bin/env node
// Entry point. A closed pipe (`| head`) ends quietly; Ctrl-C exits 130, SIGTERM 143, SIGHUP 129
// (temporary output files are removed by the exit hook in src/io/sink.ts, which a death by
// signal would skip), or, in a --follow session, once what was read is written (src/io/interrupt.ts).

// @oclif/core checks the Node version against its own `engines` (>= 18) as it loads, which runs
// semver: a few ms of every start. trendflex needs Node 20 (package.json), which passes that check.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
// One module (scripts/bundle.mjs bundles it): oclif, the commands and what they import.
const { execute, interrupt, versionReport } = await import('../dist/cli.bundle.js')

process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0)
  throw error
})
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(signal, () => interrupt(code) || process.exit(code))
}

// `-h` is `--help`, which oclif answers before parsing anything (a help flag's own handler would
// end as a flag-parsing failure, exit 2).
const end = process.argv.indexOf('--')
const args = process.argv.slice(2).map((a, i) => (a === '-h' && (end < 0 || i + 2 < end) ? '--help' : a))

// `--version` also names the native addon loaded and the kernels, for bug reports.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  const { text, ok } = versionReport()
  process.stdout.write(`${text}\n`)
  process.exit(ok ? 0 : 1)
}

await execute({ args, dir: import.meta.url })
