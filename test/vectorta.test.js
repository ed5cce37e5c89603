// Against vector-ta itself (0.2.8 from PyPI, in the test venv): every period 2..=256 one at a
// time, and the 5..=231 batch, on two random walks with leading missing prices, bit for bit, with
// every kernel this CPU runs, and the batch once more through the CLI.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { kernels, trendflex, trendflexBatch } from 'trendflex'

import { PYTHON, assertSameBits, ok, pyarrowGrid, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('vectorta')
const KERNELS = kernels().available
const SINGLE = Array.from({ length: 255 }, (_, i) => i + 2)
const BATCH = Array.from({ length: 227 }, (_, i) => i + 5)

/** vector-ta's outputs for `x`: every single period, then the batch grid, as f64 arrays. */
function vectorTa(x, name) {
  const input = join(tmp, `${name}.f64`)
  writeFileSync(input, new Uint8Array(x.buffer))
  execFileSync(PYTHON, ['-c', `
import sys, numpy as np, vector_ta
x = np.fromfile(sys.argv[1], dtype=np.float64)
np.concatenate([vector_ta.trendflex(x, p) for p in range(2, 257)]).tofile(sys.argv[1] + '.single')
r = vector_ta.trendflex_batch(x, (5, 231, 1))
assert [int(p) for p in r["periods"]] == list(range(5, 232))
np.ascontiguousarray(r["values"]).tofile(sys.argv[1] + '.batch')`, input])
  const read = (ext) => new Float64Array(readFileSync(`${input}.${ext}`).buffer.slice(0))
  return { single: read('single'), batch: read('batch') }
}

for (const [name, n, seed, leading] of [['walk-a', 3000, 11, 17], ['walk-b', 2500, 29, 3]]) {
  const x = randomWalk(n, seed)
  x.fill(NaN, 0, leading)
  const want = vectorTa(x, name)

  describe(`${name}: ${n} prices, ${leading} missing first`, () => {
    it(`every period 2..=256, one at a time, with ${KERNELS.join(', ')}`, () => {
      for (const kernel of KERNELS) {
        SINGLE.forEach((p, i) => assertSameBits(trendflex(x, p, { kernel }), want.single.subarray(i * n, (i + 1) * n), `${kernel}, period ${p}`))
      }
    })

    it(`the 5..=231 batch, with ${KERNELS.join(', ')}`, () => {
      for (const kernel of KERNELS) assertSameBits(trendflexBatch(x, BATCH, { kernel }).values, want.batch, `${kernel} batch`)
    })

    it('the 5..=231 batch through the CLI, CSV in, Arrow out', () => {
      const csv = join(tmp, `${name}.csv`)
      writeFileSync(csv, 'close\n' + Array.from(x, (v) => (Number.isNaN(v) ? 'NaN' : String(v))).join('\n') + '\n')
      const out = join(tmp, `${name}.arrow`)
      ok(['batch', csv, '--periods', '5:231', '--chunk-rows', '700', '-o', out])
      const got = pyarrowGrid(out, 'arrow')
      BATCH.forEach((p, r) => assertSameBits(got.columns[`trendflex_${p}`], want.batch.subarray(r * n, (r + 1) * n), `CLI, period ${p}`))
    })
  })
}

it('vector-ta really is the one the tests compare with', () => {
  const version = execFileSync(PYTHON, ['-c', 'import importlib.metadata as m; print(m.version("vector-ta"))'], { encoding: 'utf8' }).trim()
  assert.equal(version, '0.2.8')
})
