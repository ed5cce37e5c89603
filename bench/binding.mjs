#!/usr/bin/env node
// Binding overhead: the same kernel on the same 1M-point random walk, called from Rust and from
// Node into a reused buffer, single (period 20) and batch (5..=231). Two Rust sides:
//  - in process: the addon's `__benchCore` loop times the core call in Rust on the very same
//    buffers, alternated rep by rep with the JS calls (same memory, same moment: the fair one,
//    because this VM's speed drifts by up to 40% between seconds and processes);
//  - a separate process: the core's `timing` example, alternated round by round.
// Prints a JSON summary: medians and Node / Rust ratios.
//
//   node bench/binding.mjs [--kernel avx2] [--threads 2] [--reps 9] [--rounds 3]
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { kernels, trendflex, trendflexBatch } from 'trendflex'

import { native } from '../dist/native.js'

import { ROOT, median, splitmixWalk } from './lib.mjs'

const { values: opt } = parseArgs({
  options: {
    kernel: { type: 'string', default: kernels().best },
    threads: { type: 'string', default: String(cpus().length) },
    reps: { type: 'string', default: '9' },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', default: '1000000' },
  },
})
const n = Number(opt.n)
const reps = Number(opt.reps)
const threads = Number(opt.threads)
const timing = join(ROOT, 'native/target/release/examples/timing')
execFileSync('cargo', ['build', '--release', '--example', 'timing', '--manifest-path', join(ROOT, 'native/Cargo.toml')], { stdio: 'ignore' })

const x = splitmixWalk(n, 42n)
const grid = { start: 5, end: 231 }
const rows = 227

function rust(mode) {
  const args = [mode, opt.kernel, String(mode === 'single' ? 1 : threads), String(reps), String(n)]
  return JSON.parse(execFileSync(timing, args, { encoding: 'utf8' })).runs_ms
}

function node(mode, out) {
  // Check the answer before timing: kernel against scalar, bit for bit.
  const check = mode === 'single' ? trendflex(x, 20, { kernel: 'scalar' }) : trendflexBatch(x, grid, { kernel: 'scalar', threads }).values
  const run = () => (mode === 'single' ? trendflex(x, 20, { kernel: opt.kernel, out }) : trendflexBatch(x, grid, { kernel: opt.kernel, threads, out }))
  run()
  const a = new BigUint64Array(out.buffer, out.byteOffset, out.length)
  const b = new BigUint64Array(check.buffer, check.byteOffset, check.length)
  for (let i = 0; i < out.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(out[i]) && Number.isNaN(check[i]))) throw new Error(`${mode} ${opt.kernel}: differs from scalar at ${i}`)
  }
  const periods = mode === 'single' ? [20] : Array.from({ length: rows }, (_, i) => i + 5)
  const js = []
  const core = []
  const timeJs = () => {
    const t = process.hrtime.bigint()
    run()
    js.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  const timeCore = () => core.push(...native().__benchCore(x, periods, opt.kernel, mode === 'single' ? 1 : threads, out, 1))
  // Back to back, alternating which goes first, so drift and order effects cancel in the pairs.
  for (let r = 0; r < reps; r++) {
    if (r % 2) {
      timeJs()
      timeCore()
    } else {
      timeCore()
      timeJs()
    }
  }
  return { js, core }
}

const result = { command: `node bench/binding.mjs --kernel ${opt.kernel} --threads ${threads} --reps ${reps} --rounds ${opt.rounds}`, n, kernel: opt.kernel, threads }
for (const mode of ['single', 'batch']) {
  const out = new Float64Array(mode === 'single' ? n : rows * n).fill(1) // reused, touched before timing
  const r = []
  const j = []
  const c = []
  for (let round = 0; round < Number(opt.rounds); round++) {
    r.push(...rust(mode))
    const n = node(mode, out)
    j.push(...n.js)
    c.push(...n.core)
  }
  result[mode] = {
    node_ms: median(j),
    rust_in_process_ms: median(c),
    overhead_vs_in_process: median(j.map((v, i) => v / c[i])) - 1,
    rust_binary_ms: median(r),
    overhead_vs_binary: median(j) / median(r) - 1,
    runs: j.length,
  }
}
console.log(JSON.stringify(result, null, 2))
