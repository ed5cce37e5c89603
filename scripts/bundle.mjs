// Bundles the CLI (dist/cli.js, made by tsc, with @oclif/core and every module they import) into
// dist/cli.bundle.js, which bin/run.js loads: Node then reads and resolves one file instead of
// about 120, a fifth of every command's start. The API (dist/index.js) is not bundled.
// Left out: the addon (loaded by path at run time), cli-progress (required lazily, only when a
// bar is shown) and oclif's TypeScript support for development (typescript, ts-node).
import { build } from 'esbuild'

// oclif is CommonJS: inside an ES module bundle its `require` of Node's built-ins and of
// package.json files, and its `__dirname`, need these.
const banner = [
  "import { createRequire as __trendflexRequire } from 'node:module'",
  "import { fileURLToPath as __trendflexPath } from 'node:url'",
  'const require = __trendflexRequire(import.meta.url)',
  'const __filename = __trendflexPath(import.meta.url)',
  "const __dirname = __trendflexPath(new URL('.', import.meta.url))",
].join('\n')

await build({
  entryPoints: ['dist/cli.js'],
  outfile: 'dist/cli.bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['*.node', 'typescript', 'ts-node'],
  banner: { js: banner },
  logLevel: 'warning',
})
