#!/usr/bin/env node
// `npm run pack:all`: builds the addon once, linked by zig against glibc 2.28's symbols, and
// writes the two npm tarballs: trendflex-linux-x64-gnu (that addon) and trendflex (JS, and the
// Rust sources for platforms without a prebuilt addon), which lists the first as an optional
// dependency. Needs cargo and cargo-zigbuild with zig (`pip install cargo-zigbuild`; the test
// venv of scripts/test-env.sh has them).
//
//   node scripts/pack.mjs [--out DIR]     (default: .pack/)
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))
const { values: args } = parseArgs({ options: { out: { type: 'string' } } })
const out = resolve(args.out ?? join(ROOT, '.pack'))
const TARGET = 'x86_64-unknown-linux-gnu'
const KEY = 'linux-x64-gnu'

function fail(message) {
  console.error(`pack: ${message}`)
  process.exit(1)
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the prebuilt addon is built on linux-x64; this is ${process.platform}-${process.arch}`)

// cargo-zigbuild runs zig as `python3 -m ziglang`: the venv's bin goes first on PATH, for both.
const venv = join(ROOT, '.venv', 'bin')
const PATH = [venv, process.env.PATH].join(delimiter)
if (spawnSync('cargo-zigbuild', ['--version'], { env: { ...process.env, PATH } }).status !== 0) {
  fail('cargo-zigbuild is not installed: `pip install cargo-zigbuild` (it brings zig), or run `bash scripts/test-env.sh`')
}

const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const platformName = `trendflex-${KEY}`
const addon = `trendflex.${KEY}.node`

// The zig link is a link only (scripts/linker.sh): cargo relinks the binding crate and reuses every
// other crate of the source build.
const cargo = (...a) => execFileSync('cargo', [...a, '--manifest-path', join(ROOT, 'native', 'Cargo.toml')], { stdio: 'inherit', cwd: ROOT })
cargo('clean', '--release', '--target', TARGET, '-p', 'trendflex-node')
const stage = mkdtempSync(join(tmpdir(), 'trendflex-pack-'))
try {
  const platformDir = join(stage, platformName)
  mkdirSync(platformDir)
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'install.mjs'), '--from-source', '--out', platformDir], {
    stdio: 'inherit',
    env: { ...process.env, PATH, TRENDFLEX_LINK: 'glibc-2.28' },
  })
  if (built.status !== 0) fail('building the prebuilt addon failed')
  // The next source build must not reuse this zig-linked file unawares.
  cargo('clean', '--release', '--target', TARGET, '-p', 'trendflex-node')

  const platformJson = JSON.parse(readFileSync(join(ROOT, 'npm', KEY, 'package.json'), 'utf8'))
  platformJson.version = root.version
  writeFileSync(join(platformDir, 'package.json'), `${JSON.stringify(platformJson, null, 2)}\n`)
  cpSync(join(ROOT, 'npm', KEY, 'README.md'), join(platformDir, 'README.md'))
  rmSync(join(platformDir, 'binding.d.cts'), { force: true })

  // The main package: the files npm would pack from the checkout, with the platform package as an
  // optional dependency (not in the checkout's package.json: `npm ci` would look for it in the
  // registry, where it is not published).
  const listed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' }))[0].files
  const mainDir = join(stage, 'trendflex')
  for (const { path } of listed) cpSync(join(ROOT, path), join(mainDir, path))
  const mainJson = { ...root, optionalDependencies: { [platformName]: root.version } }
  delete mainJson.overrides // a checkout's build setting; ignored in an installed package anyway
  writeFileSync(join(mainDir, 'package.json'), `${JSON.stringify(mainJson, null, 2)}\n`)

  mkdirSync(out, { recursive: true })
  for (const dir of [platformDir, mainDir]) {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: dir, encoding: 'utf8' }))
    console.log(`${join(out, packed.filename)}\t${packed.entryCount} files\t${(packed.size / 1e6).toFixed(1)} MB`)
  }
} finally {
  rmSync(stage, { recursive: true, force: true })
}
