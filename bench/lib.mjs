// Shared by the benchmark scripts: inputs, medians, the machine description.
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** The core benches' random walk, bit for bit: SplitMix64 steps in [-1, 1) from 100. */
export function splitmixWalk(n, seed) {
  const M = (1n << 64n) - 1n
  let state = seed
  let p = 100
  const x = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    state = (state + 0x9e3779b97f4a7c15n) & M
    let z = state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M
    z ^= z >> 31n
    p += Number(z >> 11n) / 2 ** 52 - 1
    x[i] = p
  }
  return x
}

/** One line naming the machine and the versions that produced a figure. */
export function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  let rustc = 'rustc ?'
  try {
    rustc = execFileSync('rustc', ['--version'], { encoding: 'utf8' }).trim()
  } catch {}
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${rustc}`
}
