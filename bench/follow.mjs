#!/usr/bin/env node
// `node bench/follow.mjs`: --follow, the live feed. Checks first that a followed run writes the
// same bytes as a plain one; then
// - latency: lines written into the pipe at 1,000 per second, each line's result read back from
//   trendflex's stdout; from the write of a line to the read of its result line, median and p99
//   (`compute -p 20` and `batch --periods 5:60`, after 500 warm-up lines);
// - throughput: a 1M-row CSV piped at full speed (cat | trendflex) with and without --follow,
//   alternated, medians and the ratio.
//
//   node bench/follow.mjs [--lines 5000] [--runs 5]
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { ROOT, machine, median } from './lib.mjs'

const { values: opt } = parseArgs({ options: { lines: { type: 'string', default: '5000' }, runs: { type: 'string', default: '5' } } })
const LINES = Number(opt.lines)
const RUNS = Number(opt.runs)
const BIN = join(ROOT, 'bin', 'run.js')
const dir = join(tmpdir(), 'trendflex-bench')
mkdirSync(dir, { recursive: true })

function walkCsv(rows) {
  const path = join(dir, `follow-walk-${rows}.csv`)
  if (!existsSync(path)) {
    let p = 100
    let s = 'ts,close\n'
    const parts = []
    for (let i = 0; i < rows; i++) {
      p += Math.sin(i * 12.9898) * 0.5
      parts.push(`${1_700_000_000 + i},${p.toFixed(4)}`)
      if (parts.length === 100_000) s += parts.splice(0).join('\n') + '\n'
    }
    s += parts.join('\n') + (parts.length ? '\n' : '')
    writeFileSync(path, s)
  }
  return path
}

const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

/** Feeds `lines` lines at `perSecond`, timing each from its write to its result line. */
function latency(args, lines, perSecond) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args, '--follow', '--keep', 'ts'], { stdio: ['pipe', 'pipe', 'inherit'] })
    const sent = new Float64Array(lines)
    const got = []
    let buffer = ''
    let header = true
    p.stdout.setEncoding('utf8')
    p.stdout.on('data', (text) => {
      const now = performance.now()
      buffer += text
      let at
      while ((at = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, at)
        buffer = buffer.slice(at + 1)
        if (header) {
          header = false
          continue
        }
        const i = Number(line.slice(0, line.indexOf(','))) - 1_700_000_000
        got.push(now - sent[i])
      }
    })
    p.on('error', reject)
    p.on('close', (code) => (code === 0 ? resolve(got) : reject(new Error(`trendflex exited ${code}`))))
    p.stdin.write('ts,close\n')
    let i = 0
    const start = performance.now()
    const tick = () => {
      // Every line whose time has come; then sleep until the next one's.
      while (i < lines && performance.now() - start >= (i * 1000) / perSecond) {
        sent[i] = performance.now()
        p.stdin.write(`${1_700_000_000 + i},${(100 + Math.sin(i / 9) * 3).toFixed(4)}\n`)
        i++
      }
      if (i < lines) setTimeout(tick, Math.max(0, (i * 1000) / perSecond - (performance.now() - start) - 0.2))
      else p.stdin.end()
    }
    tick()
  })
}

function timed(script) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-c', `set -o pipefail; ${script}`], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`)
  const [wall, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number)
  return { wall, rss: kb / 1024 }
}

console.log(`machine: ${machine()}`)

// The answer first: followed output equals plain output, byte for byte.
const small = walkCsv(20_000)
for (const args of [['compute', '-p', '20'], ['batch', '--periods', '5:60']]) {
  const plain = spawnSync('bash', ['-c', `cat ${small} | node ${BIN} ${args.join(' ')} --keep ts`], { encoding: 'utf8', maxBuffer: 1 << 28 })
  const followed = spawnSync('bash', ['-c', `cat ${small} | node ${BIN} ${args.join(' ')} --keep ts --follow`], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (plain.status !== 0 || followed.status !== 0 || plain.stdout !== followed.stdout) throw new Error(`${args.join(' ')}: --follow output differs from the plain run`)
}
console.log('checked: --follow writes the same bytes as a plain run (20,000 rows, compute -p 20 and batch --periods 5:60)')

for (const args of [['compute', '-p', '20'], ['batch', '--periods', '5:60']]) {
  const all = await latency(args, LINES + 500, 1000)
  const xs = all.slice(500)
  console.log(`latency, trendflex ${args.join(' ')} --keep ts --follow, ${xs.length} lines at 1,000/s: median ${median(xs).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(3)} ms, max ${Math.max(...xs).toFixed(3)} ms`)
}

const big = walkCsv(1_000_000)
const a = `cat ${big} | node ${BIN} compute -p 20 --keep ts -o /dev/null`
const b = `${a} --follow`
timed(a)
timed(b)
const rounds = Array.from({ length: RUNS }, () => [timed(a), timed(b)])
const ma = median(rounds.map((r) => r[0].wall))
const mb = median(rounds.map((r) => r[1].wall))
console.log(`throughput, 1M rows piped at full speed, alternated ${RUNS} times:`)
console.log(`  A ${a.replaceAll(ROOT + '/', '').replaceAll(dir + '/', '')}: median ${ma.toFixed(2)} s, peak RSS ${Math.max(...rounds.map((r) => r[0].rss)).toFixed(0)} MB`)
console.log(`  B ... --follow: median ${mb.toFixed(2)} s, peak RSS ${Math.max(...rounds.map((r) => r[1].rss)).toFixed(0)} MB`)
console.log(`  B/A ${median(rounds.map((r) => r[1].wall / r[0].wall)).toFixed(2)} (median of per-round ratios)`)
