// The README's examples, run as written: every ```sh block after the install block, in order, in
// one directory holding the fixtures, with `trendflex` on the PATH; then every ```sql block
// through the duckdb CLI (from the test venv) against what they wrote.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { BIN, FIX, tempDir } from './cli.js'
import { PARITY_CSV, ROOT } from './helpers.js'

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
const blocks = (lang) => [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1])

describe('README examples', () => {
  const dir = tempDir('readme')
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  writeFileSync(join(bin, 'trendflex'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
  chmodSync(join(bin, 'trendflex'), 0o755)
  for (const f of ['prices.csv', 'prices.parquet']) copyFileSync(join(FIX, f), join(dir, f))
  copyFileSync(PARITY_CSV, join(dir, 'bitfinex-btcusd-4h.csv'))
  const env = { ...process.env, PATH: `${bin}:${join(ROOT, '.venv', 'bin')}:${process.env.PATH}` }
  const sh = blocks('sh')

  it('opens with the two commands a newcomer types', () => {
    assert.deepEqual(sh[0].trim().split('\n'), ['npm ci && ./bin/run.js batch fixtures/prices.csv --periods 5:231 -o grid.parquet', 'npm test'])
  })

  sh.slice(1).forEach((script, i) => {
    it(`shell example ${i + 1}: ${script.split('\n').find((l) => l && !l.startsWith('#'))}`, () => {
      const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env, encoding: 'utf8', maxBuffer: 1 << 26 })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(r.stderr, '', 'nothing on stderr')
    })
  })

  blocks('sql').forEach((sql, i) => {
    it(`SQL example ${i + 1}`, () => {
      const r = spawnSync('duckdb', ['-c', sql], { cwd: dir, env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /trendflex_20|"tool":"trendflex"/)
    })
  })
})
