// --state and --resume: an input cut anywhere, run piece by piece with each run resuming the last
// one's state, gives for every piece exactly the rows of one run over the whole input (text of
// CSV output compared; CSV writes the shortest text that reads back to the same double, so equal
// text is equal bits, and empty is null). Single series and --group-by (stacked, interleaved, a
// group that arrives late, one that skips a piece), cuts inside warm-up and after gaps under each
// --gaps mode, 3-way cuts, both flavours, every kernel; Parquet read back by pyarrow. Then the
// refusals, and a user's files left alone; and --follow sessions driven through a pipe.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { kernels } from 'trendflex'

import { BIN, PYTHON, ok, pyarrowRead, run, tempDir } from './cli.js'
import { randomWalk } from './helpers.js'

const tmp = tempDir('state')
const KERNELS = kernels().available
console.log(`kernels tested: ${KERNELS.join(', ')}`)

/** rows: [symbol, ts, close] (close NaN = empty). */
function csvOf(rows) {
  return 'symbol,ts,close\n' + rows.map(([s, t, c]) => `${s},${t},${Number.isNaN(c) ? '' : c}`).join('\n') + '\n'
}

function write(name, text) {
  const path = join(tmp, name)
  writeFileSync(path, text)
  return path
}

/** The data lines of a CSV output (header dropped). */
const lines = (text) => text.trimEnd().split('\n').slice(1)

/**
 * Runs `args` over the whole table, and over the pieces cut at `cuts` (row indices), each piece
 * resuming the last one's state (`--resume s --state s`, in place); returns both outputs' lines.
 */
function wholeAndPieces(rows, cuts, args, name, pieceArgs = () => []) {
  const whole = lines(ok([...args, write(`${name}-all.csv`, csvOf(rows))]))
  const state = join(tmp, `${name}.state`)
  const bounds = [0, ...cuts, rows.length]
  const pieces = []
  for (let k = 0; k + 1 < bounds.length; k++) {
    const input = write(`${name}-${k}.csv`, csvOf(rows.slice(bounds[k], bounds[k + 1])))
    const resume = k === 0 ? [] : ['--resume', state]
    const out = run([...args, input, ...resume, '--state', state, ...pieceArgs(k)])
    assert.equal(out.status, 0, `${name} piece ${k}: ${out.stderr}`)
    pieces.push(...lines(out.stdout))
  }
  return { whole, pieces }
}

function single(n, seed, gaps = []) {
  const x = randomWalk(n, seed)
  x.fill(NaN, 0, 3)
  for (const g of gaps) x[g] = NaN
  return Array.from(x, (c, i) => ['S', 1000 + i, c])
}

describe('a single series, cut anywhere, equals one run', () => {
  const rows = single(400, 3)
  for (const [cmd, args] of [
    ['compute', ['compute', '-p', '20', '--keep', 'ts']],
    ['batch', ['batch', '--periods', '5:60', '--keep', 'ts']],
  ]) {
    it(`${cmd}: cuts in the leading NaNs, inside warm-up, at the period's edge, later; 3-way; every kernel and flavour`, () => {
      const cutsets = [[1], [3], [10], [22], [23], [24], [63], [64], [200], [399], [5, 30], [50, 51], [100, 300]]
      cutsets.forEach((cuts, i) => {
        const flavor = i % 2 ? 'ehlers' : 'vectorta'
        const pick = (k) => ['--kernel', KERNELS[(i + k) % KERNELS.length]]
        const { whole, pieces } = wholeAndPieces(rows, cuts, [...args, '--flavor', flavor], `${cmd}-${i}`, pick)
        assert.deepEqual(pieces, whole, `${cmd} cuts ${cuts} ${flavor}`)
      })
    })
  }

  for (const gaps of ['propagate', 'ffill']) {
    it(`--gaps ${gaps}: cuts before, at and after a missing price`, () => {
      const rows = single(300, 9, [120, 121, 200])
      for (const cuts of [[100], [120], [121], [122], [150, 201]]) {
        const { whole, pieces } = wholeAndPieces(rows, cuts, ['batch', '--periods', '5,20,33', '--keep', 'ts', '--gaps', gaps], `gap-${gaps}-${cuts}`)
        assert.deepEqual(pieces, whole, `${gaps} cuts ${cuts}`)
      }
    })
  }

  it('--gaps error still names the line of a gap in a resumed piece', () => {
    const rows = single(100, 4, [60])
    const state = join(tmp, 'gap-error.state')
    ok(['compute', '-p', '5', write('ge-0.csv', csvOf(rows.slice(0, 50))), '--state', state])
    const r = run(['compute', '-p', '5', write('ge-1.csv', csvOf(rows.slice(50))), '--resume', state, '--state', state, '-o', join(tmp, 'ge.csv')])
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /^trendflex: .*ge-1\.csv: line 12: missing price after the first valid one \(--gaps error\)/)
  })
})

describe('--group-by, cut anywhere, equals one run', () => {
  // Interleaved by time: A and B from the start, C only from row 300 on, D absent from the middle
  // piece (its state carried over).
  const interleaved = []
  const walks = { A: randomWalk(400, 1), B: randomWalk(400, 2), C: randomWalk(400, 3), D: randomWalk(400, 4) }
  walks.B.fill(NaN, 0, 7)
  for (let t = 0; t < 400; t++) {
    for (const s of ['A', 'B', 'C', 'D']) {
      if (s === 'C' && t < 300) continue
      if (s === 'D' && t >= 100 && t < 250) continue
      interleaved.push([s, t, walks[s][t]])
    }
  }
  const stacked = [...interleaved].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
  for (const [shape, rows] of [['interleaved', interleaved], ['stacked', stacked]]) {
    it(`${shape}: 2- and 3-way cuts, batch and compute, every kernel`, () => {
      const n = rows.length
      const cutsets = [[5], [40], [n >> 1], [n - 3], [150, 800], [401, 402]]
      cutsets.forEach((cuts, i) => {
        const args = i % 2 ? ['compute', '--group-by', 'symbol', '-p', '30', '--keep', 'ts'] : ['batch', '--group-by', 'symbol', '--periods', '5:40', '--keep', 'ts']
        const pick = (k) => ['--kernel', KERNELS[(i + k) % KERNELS.length]]
        const { whole, pieces } = wholeAndPieces(rows, cuts, args, `${shape}-${i}`, pick)
        assert.deepEqual(pieces, whole, `${shape} cuts ${cuts}`)
      })
    })
  }

  it('into Parquet: the same values and nulls, read by pyarrow', () => {
    const cut = 555
    const state = join(tmp, 'pq.state')
    const [a, b, all] = ['pq-a.parquet', 'pq-b.parquet', 'pq-all.parquet'].map((f) => join(tmp, f))
    const args = ['batch', '--group-by', 'symbol', '--periods', '10,20,50', '--keep', 'ts']
    ok([...args, write('pq-all.csv', csvOf(interleaved)), '-o', all])
    ok([...args, write('pq-0.csv', csvOf(interleaved.slice(0, cut))), '-o', a, '--state', state])
    ok([...args, write('pq-1.csv', csvOf(interleaved.slice(cut))), '-o', b, '--resume', state, '--state', state])
    const [ra, rb, rall] = [a, b, all].map(pyarrowRead)
    for (const c of ['symbol', 'ts', 'trendflex_10', 'trendflex_20', 'trendflex_50']) {
      assert.deepEqual([...ra.columns[c], ...rb.columns[c]], rall.columns[c], c)
    }
  })
})

describe('refusals, and a user\'s files left alone', () => {
  const rows = single(200, 5)
  const first = write('r-0.csv', csvOf(rows.slice(0, 120)))
  const second = write('r-1.csv', csvOf(rows.slice(120)))
  const state = join(tmp, 'r.state')
  ok(['batch', '--periods', '5:30', first, '--state', state, '-o', join(tmp, 'r-0.parquet')])
  const saved = readFileSync(state)

  it('a state is small: about 9 KB per series for 5:231', () => {
    const big = join(tmp, 'big.state')
    ok(['batch', '--periods', '5:231', write('big.csv', csvOf(single(1000, 6))), '--state', big, '-o', join(tmp, 'big.parquet')])
    const size = statSync(big).size
    console.log(`state of one series, 5:231: ${size} bytes`)
    assert.ok(size < 9500, `${size} bytes`)
  })

  for (const [what, args, message] of [
    ['other periods', ['--periods', '5:31'], /the state was made with periods 5:30, and this run has 5:31/],
    ['another flavour', ['--periods', '5:30', '--flavor', 'ehlers'], /made with --flavor vectorta, and this run has ehlers/],
    ['another gaps mode', ['--periods', '5:30', '--gaps', 'ffill'], /made with --gaps error, and this run has ffill/],
    ['another price column', ['--periods', '5:30', '-c', 'ts'], /made with price column close, and this run has ts/],
    ['a group column', ['--periods', '5:30', '--group-by', 'symbol'], /made with no --group-by, and this run has --group-by symbol \(Utf8\)/],
  ]) {
    it(`a state made with ${what}: exit 2, naming the difference`, () => {
      const out = join(tmp, 'refused.csv')
      const r = run(['batch', second, '--resume', state, '--state', state, '-o', out, ...args])
      assert.equal(r.status, 2, r.stderr)
      assert.match(r.stderr, new RegExp(`^trendflex: --resume ${state.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `))
      assert.match(r.stderr, message)
      assert.equal(r.stderr.split('\n').length, 2, 'one line')
      assert.deepEqual(readFileSync(state), saved, 'the state file untouched')
      assert.ok(!existsSync(out), 'no output')
    })
  }

  it('a truncated, changed or foreign file: exit 1, one line, no stack trace', () => {
    const cases = [
      ['cut.state', saved.subarray(0, saved.length - 9), /truncated or corrupt/],
      ['flipped.state', Buffer.from(saved.map((b, i) => (i === 60 ? b ^ 1 : b))), /checksum does not match/],
      ['foreign.state', Buffer.from('symbol,ts,close\n'), /not a trendflex state file/],
      ['empty.state', Buffer.alloc(0), /not a trendflex state file/],
    ]
    for (const [name, bytes, message] of cases) {
      const r = run(['batch', '--periods', '5:30', second, '--resume', write(name, bytes)])
      assert.equal(r.status, 1, `${name}: ${r.stderr}`)
      assert.match(r.stderr, message, name)
      assert.equal(r.stderr.split('\n').length, 2, `${name}: one line`)
    }
    const r = run(['batch', '--periods', '5:30', second, '--resume', join(tmp, 'missing.state')])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /--resume .*missing\.state: no such file \(make one with --state on an earlier run\)/)
  })

  it('--state never replaces a file that is not a state, the output, or an input', () => {
    const prices = write('precious.csv', 'symbol,ts,close\nS,1,2\n')
    let r = run(['batch', '--periods', '5:30', second, '--state', prices, '-o', join(tmp, 'x.csv')])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /--state .*precious\.csv exists and is not a trendflex state file: refusing to replace it/)
    assert.equal(readFileSync(prices, 'utf8'), 'symbol,ts,close\nS,1,2\n')
    r = run(['batch', '--periods', '5:30', second, '--state', second])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /is an input file/)
    const out = join(tmp, 'same.csv')
    r = run(['batch', '--periods', '5:30', second, '--state', out, '-o', out])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /is also the output/)
  })

  it('a failed resumed run leaves the state and the output as they were, and no temporary file', () => {
    const out = write('kept.csv', 'old output\n')
    const bad = write('r-bad.csv', csvOf([...rows.slice(120, 130), ['S', 9999, NaN], ...rows.slice(130)]))
    const before = readdirSync(tmp).sort()
    const r = run(['batch', '--periods', '5:30', bad, '--resume', state, '--state', state, '-o', out])
    assert.equal(r.status, 1, r.stderr)
    assert.deepEqual(readFileSync(state), saved)
    assert.equal(readFileSync(out, 'utf8'), 'old output\n')
    assert.deepEqual(readdirSync(tmp).sort(), before, 'nothing left behind')
  })

  it('an input that repeats rows the state consumed is refused, where a typed keep column tells', () => {
    // Into Parquet, ts is kept as int64 and compared; a group absent from the middle run keeps
    // its last row in the state. CSV into CSV keeps text, which cannot tell, and is not checked.
    const long = []
    for (let t = 0; t < 60; t++) for (const s of ['A', 'B']) if (!(s === 'B' && t >= 20 && t < 40)) long.push([s, 1000 + t, 100 + Math.sin(t + (s === 'B'))])
    const cut1 = long.findIndex((r) => r[1] === 1020)
    const cut2 = long.findIndex((r) => r[1] === 1040)
    const st = join(tmp, 'repeat.state')
    const args = ['compute', '--group-by', 'symbol', '-p', '5', '--keep', 'ts']
    ok([...args, write('rep-0.csv', csvOf(long.slice(0, cut1))), '--state', st, '-o', join(tmp, 'rep-0.parquet')])
    ok([...args, write('rep-1.csv', csvOf(long.slice(cut1, cut2))), '--resume', st, '--state', st, '-o', join(tmp, 'rep-1.parquet')])
    const saved = readFileSync(st)
    // B's last row in the state is ts 1019 (from the first run); a third run starting B at 1019.
    const again = [['A', 1040, 101], ['B', 1019, 102], ['B', 1040, 103]]
    const r = run([...args, write('rep-2.csv', csvOf(again)), '--resume', st, '--state', st, '-o', join(tmp, 'rep-2.parquet')])
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /^trendflex: .*rep-2\.csv: symbol B: line 3: ts 1019 is not after 1019, the last row the state has: the input repeats rows the state already consumed/)
    assert.deepEqual(readFileSync(st), saved, 'the state untouched')
    ok([...args, write('rep-3.csv', csvOf(again.filter((x) => x[1] === 1040))), '--resume', st, '-o', join(tmp, 'rep-3.parquet')])
  })

  it('--resume s --state s updates the state in place; groups absent from the input carry over', () => {
    const s2 = join(tmp, 'inplace.state')
    writeFileSync(s2, saved)
    ok(['batch', '--periods', '5:30', second, '--resume', s2, '--state', s2, '-o', join(tmp, 'inplace.csv')])
    assert.notDeepEqual(readFileSync(s2), saved)
    const again = run(['batch', '--periods', '5:30', second, '--resume', state, '-o', join(tmp, 'inplace2.csv')])
    assert.equal(again.status, 0, again.stderr)
    assert.equal(readFileSync(join(tmp, 'inplace2.csv'), 'utf8'), readFileSync(join(tmp, 'inplace.csv'), 'utf8'), 'the same from the same state')
  })
})

describe('--follow: a live feed', () => {
  const rows = single(120, 8)
  const feed = (from, to) => rows.slice(from, to).map(([s, t, c]) => `${s},${t},${Number.isNaN(c) ? '' : c}\n`).join('')

  /** Starts a follow session; `lines()` has the output lines so far, `until(n)` waits for n. */
  function session(args) {
    const p = spawn(process.execPath, [BIN, ...args, '--follow'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.setEncoding('utf8').on('data', (t) => (out += t))
    p.stderr.setEncoding('utf8').on('data', (t) => (err += t))
    const exited = new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal, out, err })))
    const until = async (n) => {
      const start = Date.now()
      while (out.split('\n').length - 1 < n) {
        if (Date.now() - start > 20_000) throw new Error(`waited for ${n} lines, have: ${JSON.stringify(out)} ${err}`)
        await new Promise((r) => setTimeout(r, 5))
      }
      return out.trimEnd().split('\n')
    }
    return { p, until, exited }
  }

  it('rows come out before the feed ends; Ctrl-C writes them all, saves the state, exit 130; the state resumes bit for bit', async () => {
    const whole = lines(ok(['compute', '-p', '5', '--keep', 'ts', write('follow-all.csv', csvOf(rows))]))
    const state = join(tmp, 'follow.state')
    const s = session(['compute', '-p', '5', '--keep', 'ts', '--state', state])
    s.p.stdin.write('symbol,ts,close\n' + feed(0, 10))
    assert.deepEqual((await s.until(11)).slice(1), whole.slice(0, 10), 'the first ten rows, while the feed is open')
    s.p.stdin.write(feed(10, 40))
    assert.deepEqual((await s.until(41)).slice(1), whole.slice(0, 40))
    // Half of the next line: not a row yet, so not written, not in the state.
    s.p.stdin.write(feed(40, 41).slice(0, 5))
    await new Promise((r) => setTimeout(r, 200))
    s.p.kill('SIGINT')
    const end = await s.exited
    assert.equal(end.code, 130, end.err)
    assert.equal(end.err, '')
    assert.deepEqual(lines(end.out), whole.slice(0, 40), 'every row read, written')
    // The next session starts warm from the state.
    const rest = run(['compute', '-p', '5', '--keep', 'ts', write('follow-rest.csv', csvOf(rows.slice(40))), '--resume', state])
    assert.equal(rest.status, 0, rest.stderr)
    assert.deepEqual(lines(rest.stdout), whole.slice(40))
  })

  it('SIGTERM ends it with exit 143; Arrow IPC output is a record batch per flush, readable to the end', async () => {
    const p = spawn(process.execPath, [BIN, 'batch', '--periods', '3,6', '--keep', 'ts', '-f', 'arrow', '--follow'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const parts = []
    p.stdout.on('data', (b) => parts.push(b))
    const exited = new Promise((resolve) => p.on('close', (code) => resolve(code)))
    const bytes = () => parts.reduce((n, b) => n + b.length, 0)
    p.stdin.write('symbol,ts,close\n' + feed(0, 5))
    const start = Date.now()
    while (bytes() < 600) {
      assert.ok(Date.now() - start < 20_000, `the first batch comes out while the feed is open (${bytes()} bytes)`)
      await new Promise((r) => setTimeout(r, 5))
    }
    p.stdin.write(feed(5, 30))
    while (bytes() < 2000) {
      assert.ok(Date.now() - start < 20_000, `the next rows come out too (${bytes()} bytes)`)
      await new Promise((r) => setTimeout(r, 5))
    }
    p.kill('SIGTERM')
    assert.equal(await exited, 143)
    const out = write('follow.arrow', Buffer.concat(parts))
    const got = JSON.parse(execFileSync(PYTHON, ['-c', `
import sys, json, pyarrow as pa
r = pa.ipc.open_stream(pa.OSFile(sys.argv[1]))
bs = list(r)
t = pa.Table.from_batches(bs, r.schema)
print(json.dumps({"batches": len(bs), "ts": t.column("ts").to_pylist()}))`, out], { encoding: 'utf8' }))
    assert.ok(got.batches >= 2, `${got.batches} batches`)
    assert.deepEqual(got.ts, rows.slice(0, 30).map((r) => r[1]))
  })

  it('Ctrl-C before the feed sent anything: exit 130, quietly', async () => {
    const s = session(['compute', '-p', '5'])
    await new Promise((r) => setTimeout(r, 500))
    s.p.kill('SIGINT')
    const end = await s.exited
    assert.equal(end.code, 130, end.err)
    assert.equal(end.err, '')
  })

  it('a file named with -o is refused (exit 2): it would appear only once complete', () => {
    const r = run(['compute', '--follow', '-o', join(tmp, 'live.csv')], { input: 'ts,close\n1,2\n' })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /--follow writes rows as they come: to stdout \(redirect it, > .*live\.csv, to keep them in a file as they arrive\) or to a FIFO/)
  })

  it('Parquet output is refused (exit 2)', () => {
    const r = run(['compute', '--follow', '-o', join(tmp, 'x.parquet')], { input: 'ts,close\n1,2\n' })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^trendflex: --follow writes each row as it comes, which Parquet .* cannot: write -f csv or -f arrow\n$/)
  })
})
