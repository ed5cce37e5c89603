// The package as a user installs it: `npm run pack:all` writes the two tarballs; installed together
// into an empty prefix with no Rust on PATH, nothing is compiled and the prebuilt addon (no glibc
// symbol newer than 2.28) runs the CLI; the main tarball alone, with Rust, builds from source.
// Both installed commands, run from another directory, print what the checkout prints.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { before, describe, it } from 'node:test'

import { BIN, FIX, tempDir } from './cli.js'
import { ROOT } from './helpers.js'

const tmp = tempDir('install')
const PRICES = join(FIX, 'prices.csv')
const KEY = 'linux-x64-gnu'
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version

/** PATH without any directory that holds cargo or rustc. */
const pathWithoutRust = process.env.PATH.split(delimiter)
  .filter((d) => !['cargo', 'rustc', 'rustup'].some((tool) => existsSync(join(d, tool))))
  .join(delimiter)

/** `npm install -g --prefix` of `tarballs`; returns the seconds it took. */
function install(prefix, tarballs, env) {
  const started = process.hrtime.bigint()
  const r = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...tarballs], { env: { ...process.env, ...env }, encoding: 'utf8', cwd: tmp })
  assert.equal(r.status, 0, `npm install: ${r.stdout}\n${r.stderr}`)
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** The installed command, run in `tmp` (not the checkout). */
function installed(prefix, args, { input, env } = {}) {
  const r = spawnSync(join(prefix, 'bin', 'trendflex'), args, { cwd: tmp, input, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 })
  assert.equal(r.status, 0, `trendflex ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const checkout = (args) => execFileSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })

/** The newest GLIBC_x.y symbol version a shared object needs. */
function newestGlibc(file) {
  const versions = execFileSync('objdump', ['-T', file], { encoding: 'utf8' }).match(/GLIBC_[0-9.]+/g) ?? []
  return versions.map((v) => v.slice(6)).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).at(-1)
}

function assertSameOutputs(prefix) {
  const job = ['batch', PRICES, '--periods', '10,20,50', '--keep', 'ts']
  assert.equal(installed(prefix, job), checkout(job), 'a file')
  assert.equal(installed(prefix, ['compute', '-p', '20'], { input: readFileSync(PRICES) }), checkout(['compute', '-p', '20', PRICES]), 'stdin')
}

describe('the npm packages, installed', () => {
  const packs = join(tmp, 'packs')
  let main, platform
  before(() => {
    const started = process.hrtime.bigint()
    const r = spawnSync('npm', ['run', 'pack:all', '--', '--out', packs], { cwd: ROOT, encoding: 'utf8' })
    assert.equal(r.status, 0, `npm run pack:all: ${r.stdout}\n${r.stderr}`)
    main = join(packs, `trendflex-${VERSION}.tgz`)
    platform = join(packs, `trendflex-${KEY}-${VERSION}.tgz`)
    console.log(`pack:all: ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s; tarballs of ${statSync(main).size} B and ${statSync(platform).size} B`)
  })

  it('the main tarball holds every source a build needs, and no tests, benches or build output', () => {
    const files = execFileSync('tar', ['-tzf', main], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''))
    const tracked = execFileSync('git', ['ls-files', 'native'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n')
    const needed = tracked.filter((f) => /^native\/(Cargo\.(toml|lock)|[a-z]+\/(Cargo\.toml|build\.rs|src\/.*))$/.test(f))
    assert.ok(needed.length > 40, `${needed.length} crate sources`)
    for (const f of ['native/Cargo.lock', 'native/csv/src/lib.rs', 'native/io/src/lib.rs', 'native/core/src/lib.rs', 'native/node/build.rs']) assert.ok(needed.includes(f), f)
    assert.deepEqual(needed.filter((f) => !files.includes(f)), [], 'missing from the tarball')
    const extra = files.filter((f) => /(^|\/)(tests?|benches|bench|target|examples|\.cargo)\//.test(f) || (f.startsWith('fixtures/') && !['fixtures/prices.csv', 'fixtures/README.md'].includes(f)) || f.endsWith('.node'))
    assert.deepEqual(extra, [], 'not needed by a build or the first README command')
    for (const f of ['dist/index.js', 'bin/run.js', 'oclif.manifest.json', 'scripts/install.mjs', 'native/node/binding.d.cts', 'fixtures/prices.csv']) assert.ok(files.includes(f), f)
    const json = JSON.parse(execFileSync('tar', ['-xzOf', main, 'package/package.json'], { encoding: 'utf8' }))
    assert.deepEqual(json.optionalDependencies, { [`trendflex-${KEY}`]: VERSION })
  })

  it('the prebuilt addon needs no glibc symbol newer than 2.28', () => {
    const dir = join(tmp, 'platform')
    execFileSync('mkdir', ['-p', dir])
    execFileSync('tar', ['-xzf', platform, '-C', dir])
    assert.deepEqual(readdirSync(join(dir, 'package')).sort(), ['README.md', 'package.json', `trendflex.${KEY}.node`])
    const newest = newestGlibc(join(dir, 'package', `trendflex.${KEY}.node`))
    console.log(`prebuilt addon: newest glibc symbol ${newest}`)
    assert.ok(newest.localeCompare('2.28', undefined, { numeric: true }) <= 0, `GLIBC_${newest}`)
  })

  it('both tarballs, no Rust on PATH: nothing compiles, the prebuilt addon runs', () => {
    assert.equal(spawnSync('cargo', ['--version'], { env: { PATH: pathWithoutRust } }).error?.code, 'ENOENT', 'cargo is off PATH')
    const prefix = join(tmp, 'prebuilt')
    const seconds = install(prefix, [platform, main], { PATH: pathWithoutRust })
    console.log(`npm install -g of both tarballs, no Rust: ${seconds.toFixed(1)} s`)
    const version = installed(prefix, ['--version'], { env: { PATH: pathWithoutRust } })
    assert.match(version, new RegExp(`^trendflex/${VERSION.replaceAll('.', '\\.')} ${KEY} node-v`))
    assert.match(version, new RegExp(`\naddon: prebuilt ${prefix}/lib/node_modules/trendflex-${KEY}/trendflex\\.${KEY}\\.node\n`))
    assert.match(version, /\nkernels: .*scalar.* \(auto: (scalar|avx2|avx512)\)\n$/)
    assert.deepEqual(readdirSync(join(prefix, 'lib', 'node_modules', 'trendflex', 'native', 'node')).filter((f) => f.endsWith('.node')), [], 'nothing was built')
    assertSameOutputs(prefix)
  })

  it('the main tarball alone, with Rust: builds from source and works', () => {
    const prefix = join(tmp, 'source')
    // The checkout's compiled dependencies are reused (the same target directory, and the same
    // linker as native/.cargo/config.toml names): only trendflex's own crates compile here.
    const env = { CARGO_TARGET_DIR: join(ROOT, 'native', 'target'), CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER: join(ROOT, 'scripts', 'linker.sh') }
    const seconds = install(prefix, [main], env)
    console.log(`npm install -g of the main tarball, built from source: ${seconds.toFixed(1)} s`)
    assert.match(installed(prefix, ['--version']), new RegExp(`\naddon: source-built ${prefix}/lib/node_modules/trendflex/native/node/trendflex\\.${KEY}\\.node\n`))
    assertSameOutputs(prefix)
  })
})
