#!/usr/bin/env node
// npm's install step, and `npm run build:native`: where a prebuilt addon of this platform is
// installed (the optional dependency trendflex-<platform>) and loads, nothing is compiled;
// otherwise the addon is built from the Rust sources in native/, which needs cargo (Rust >= 1.89).
//
//   node scripts/install.mjs                  prebuilt if it loads, else build from source
//   node scripts/install.mjs --from-source    always build (development)
//   node scripts/install.mjs --from-source --out DIR   build into DIR (scripts/pack.mjs)
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const { values: args } = parseArgs({ options: { 'from-source': { type: 'boolean' }, out: { type: 'string' } } })

/** The prebuilt addon that would be loaded, if one is installed and loads. */
async function prebuilt() {
  const loader = join(ROOT, 'dist', 'native.js')
  if (!existsSync(loader)) return undefined // a fresh checkout: nothing compiled yet
  const { addonCandidates } = await import(loader)
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  for (const origin of addonCandidates().filter((o) => o.kind === 'prebuilt')) {
    try {
      require(origin.path)
      return origin
    } catch (error) {
      console.error(`trendflex: the prebuilt addon ${origin.path} does not load here (${String(error.message).split('\n')[0]}); building from source`)
    }
  }
  return undefined
}

function fail(message) {
  console.error(`trendflex: ${message}`)
  process.exit(1)
}

if (!args['from-source']) {
  const found = await prebuilt()
  if (found) process.exit(0)
}

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargo.error || cargo.status !== 0) {
  fail(
    `no prebuilt addon for ${process.platform}-${process.arch} is installed, and building one from source needs Rust >= 1.89 ` +
      'with cargo on PATH (https://rustup.rs). Install it, then run `npm rebuild trendflex` (with -g for a global install).',
  )
}

// The napi-rs CLI drives cargo and names the file as the loader expects. A checkout has it as a
// dev dependency; an installed package fetches the same version from the registry.
const local = join(ROOT, 'node_modules', '.bin', 'napi')
const { devDependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const napi = existsSync(local) ? [local] : ['npx', '--yes', '--package', `@napi-rs/cli@${devDependencies['@napi-rs/cli']}`, 'napi']
const out = args.out ?? join(ROOT, 'native', 'node')
const build = [
  ...napi,
  'build',
  '--release',
  '--platform',
  '--manifest-path', join(ROOT, 'native', 'node', 'Cargo.toml'),
  '--package-json-path', join(ROOT, 'package.json'),
  '--output-dir', out,
  '--no-js',
  '--dts', 'binding.d.cts',
  '--', '--locked',
]
console.error(`trendflex: building the native addon from source (${cargo.stdout.trim()})`)
// npx inside `npm install -g --prefix P` would inherit the global install's settings and look for
// the CLI under P: it runs as a plain local npx.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_(global|prefix|location)$/i.test(k)))
const r = spawnSync(build[0], build.slice(1), { stdio: 'inherit', cwd: ROOT, env })
if (r.error || r.status !== 0) fail(`building the native addon failed (${r.error?.message ?? `exit ${r.status}`}); the lines above say why`)
