// Where output goes (src/io/sink.ts), from the shell: a user's file is replaced only by a
// complete, checked one, keeps its permission bits and survives every failure and signal;
// special files are written in place; stdout copes with a closed pipe and a full disk.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statfsSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'

import { BIN, FIX, csvColumns, ok, parquetRows, run, tempDir } from './cli.js'

const tmp = tempDir('sink')
const PRICES = join(FIX, 'prices.csv')
const want20 = ok(['compute', PRICES]) // the reference CSV, to stdout

/** A directory of its own per test, so that "no file left behind" can be checked exactly. */
let dirs = 0
function dir() {
  const d = join(tmp, `d${dirs++}`)
  mkdirSync(d)
  return d
}

function sh(script) {
  return spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, BIN, NODE: process.execPath, PRICES } })
}

function oneLineError(r, code, pattern) {
  assert.equal(r.status, code, r.stderr)
  assert.match(r.stderr, pattern)
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
  assert.doesNotMatch(r.stderr, /\.tmp|\n\s+at /, 'names the user\'s path, no stack trace')
}

describe('regular files', () => {
  it('a new file appears complete, and nothing else is left', () => {
    const d = dir()
    ok(['compute', PRICES, '-o', join(d, 'out.csv')])
    assert.equal(readFileSync(join(d, 'out.csv'), 'utf8'), want20)
    assert.deepEqual(readdirSync(d), ['out.csv'])
  })

  it('an existing file is replaced and keeps its permission bits', () => {
    const d = dir()
    const target = join(d, 'out.parquet')
    writeFileSync(target, 'old')
    chmodSync(target, 0o640)
    ok(['compute', PRICES, '-o', target])
    assert.equal(statSync(target).mode & 0o777, 0o640)
    assert.equal(parquetRows(target), 2000)
    assert.deepEqual(readdirSync(d), ['out.parquet'])
  })

  it('a large old file (64 MiB or more) is gone by name when the command returns, and its space comes back', async () => {
    const d = dir()
    const target = join(d, 'out.parquet')
    // Random bytes: no file system compresses them away, so the file holds its size on the disk.
    writeFileSync(target, randomBytes(80 << 20))
    const held = statSync(target).blocks * 512
    const free = () => {
      const s = statfsSync(d)
      return s.bavail * s.bsize
    }
    const before = free()
    ok(['compute', PRICES, '-o', target])
    assert.equal(parquetRows(target), 2000)
    assert.deepEqual(readdirSync(d), ['out.parquet'])
    // Its blocks are freed by a child process after the command has returned (native/io/src/replace.rs).
    const deadline = Date.now() + 60_000
    while (free() < before + held * 0.9) {
      assert.ok(Date.now() < deadline, 'the old file\'s space never came back')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

  it('a symlink is followed: the file it points to is replaced, the link stays', () => {
    const d = dir()
    mkdirSync(join(d, 'real'))
    writeFileSync(join(d, 'real', 'grid.csv'), 'old')
    symlinkSync(join('real', 'grid.csv'), join(d, 'link.csv'))
    ok(['compute', PRICES, '-o', join(d, 'link.csv')])
    assert.ok(lstatSync(join(d, 'link.csv')).isSymbolicLink())
    assert.equal(readlinkSync(join(d, 'link.csv')), join('real', 'grid.csv'))
    assert.equal(readFileSync(join(d, 'real', 'grid.csv'), 'utf8'), want20)
    assert.deepEqual(readdirSync(join(d, 'real')), ['grid.csv'])
  })

  it('a failed run leaves an existing output untouched and no temporary file', () => {
    const d = dir()
    const target = join(d, 'out.parquet')
    writeFileSync(target, 'precious')
    const r = run(['compute', join(FIX, 'interior-gap.csv'), '-o', target])
    assert.equal(r.status, 1)
    assert.equal(readFileSync(target, 'utf8'), 'precious')
    assert.deepEqual(readdirSync(d), ['out.parquet'])
  })

  it('a write error names the output, keeps the old file and leaves nothing behind', () => {
    const d = dir()
    const target = join(d, 'out.parquet')
    writeFileSync(target, 'precious')
    // A file size limit of 200 KiB: the kernel refuses writes past it with EFBIG.
    const r = sh(`trap '' XFSZ; ulimit -f 200; exec "$NODE" "$BIN" batch "$PRICES" --periods 5:231 -o "${target}"`)
    oneLineError(r, 1, new RegExp(`^trendflex: ${target.replaceAll('/', '\\/')}: file too large`))
    assert.equal(readFileSync(target, 'utf8'), 'precious')
    assert.deepEqual(readdirSync(d), ['out.parquet'])
  })

  it('the output may not be the input, also through a link (before anything is read)', () => {
    const d = dir()
    const input = join(d, 'prices.csv')
    writeFileSync(input, readFileSync(PRICES))
    symlinkSync('prices.csv', join(d, 'alias.csv'))
    for (const output of [input, join(d, 'alias.csv')]) {
      oneLineError(run(['compute', input, '-o', output]), 2, /is the input file: write the output somewhere else/)
      assert.equal(readFileSync(input, 'utf8'), readFileSync(PRICES, 'utf8'))
    }
    oneLineError(sh(`"$NODE" "$BIN" compute -o "${input}" < "${input}"`), 2, /is the input file/)
    assert.deepEqual(readdirSync(d).sort(), ['alias.csv', 'prices.csv'])
  })
})

describe('formats from names', () => {
  it('-f contradicting the extension is refused; an unknown extension gets CSV', () => {
    const d = dir()
    oneLineError(run(['compute', PRICES, '-o', join(d, 'x.parquet'), '-f', 'csv']), 2, /--format csv contradicts the output name .*x\.parquet \(parquet\)/)
    oneLineError(run(['compute', PRICES, '-o', join(d, 'x.arrow'), '-f', 'parquet']), 2, /contradicts/)
    oneLineError(run(['compute', PRICES, '-o', join(d, 'x.csv.gz')]), 2, /does not compress text output/)
    ok(['compute', PRICES, '-o', join(d, 'x.txt')])
    assert.equal(readFileSync(join(d, 'x.txt'), 'utf8'), want20)
    ok(['compute', PRICES, '-o', join(d, 'x.data'), '-f', 'parquet'])
    assert.equal(parquetRows(join(d, 'x.data')), 2000)
    assert.deepEqual(readdirSync(d).sort(), ['x.data', 'x.txt'])
  })
})

describe('special files are written in place', () => {
  it('a FIFO', () => {
    const d = dir()
    const r = sh(`mkfifo "${d}/fifo"; cat "${d}/fifo" > "${d}/got" & "$NODE" "$BIN" compute "$PRICES" -o "${d}/fifo"; wait`)
    assert.equal(r.status, 0, r.stderr)
    assert.ok(lstatSync(join(d, 'fifo')).isFIFO(), 'the FIFO survives')
    assert.equal(readFileSync(join(d, 'got'), 'utf8'), want20)
    assert.deepEqual(readdirSync(d).sort(), ['fifo', 'got'])
  })

  it('a character device (a copy of /dev/null), and /dev/null itself', (t) => {
    const d = dir()
    const made = sh(`mknod "${d}/null" c 1 3`)
    if (made.status !== 0) t.diagnostic(`mknod not permitted here (${made.stderr.trim()}): only /dev/null itself is tested`)
    for (const target of made.status === 0 ? [join(d, 'null'), '/dev/null'] : ['/dev/null']) {
      assert.equal(ok(['batch', PRICES, '--periods', '5:50', '-o', target]), '')
      assert.ok(statSync(target).isCharacterDevice(), `${target} is still a device`)
    }
    assert.deepEqual(readdirSync(d), made.status === 0 ? ['null'] : [])
  })

  it('/dev/stdout, and a process substitution', () => {
    const d = dir()
    const viaDev = sh(`"$NODE" "$BIN" compute "$PRICES" -o /dev/stdout > "${d}/a.csv"`)
    assert.equal(viaDev.status, 0, viaDev.stderr)
    assert.equal(readFileSync(join(d, 'a.csv'), 'utf8'), want20)
    const sub = sh(`"$NODE" "$BIN" compute "$PRICES" -o >(cat > "${d}/b.csv"); sleep 0.5`)
    assert.equal(sub.status, 0, sub.stderr)
    assert.equal(readFileSync(join(d, 'b.csv'), 'utf8'), want20)
    assert.deepEqual(readdirSync(d).sort(), ['a.csv', 'b.csv'])
  })
})

describe('stdout', () => {
  it('| head ends quietly with 0, whatever the format', () => {
    for (const format of ['csv', 'arrow', 'parquet']) {
      const r = sh(`set -o pipefail; "$NODE" "$BIN" batch "$PRICES" --periods 5:231 -f ${format} | head -c 100 | wc -c`)
      assert.equal(r.status, 0, `${format}: ${r.stderr}`)
      assert.equal(r.stderr, '')
      assert.equal(r.stdout.trim(), '100')
    }
  })

  it('a full disk is one line and exit 1, for each format', () => {
    for (const format of ['csv', 'arrow', 'parquet']) {
      oneLineError(sh(`"$NODE" "$BIN" batch "$PRICES" --periods 5:231 -f ${format} > /dev/full`), 1, /^trendflex: stdout: no space left on device\n$/)
      oneLineError(run(['batch', PRICES, '--periods', '5:231', '-f', format, '-o', '/dev/full']), 1, /^trendflex: \/dev\/full: no space left on device\n$/)
    }
  })

  it('a run that fails for lack of data prints nothing at all', () => {
    const r = run(['batch', PRICES, '--periods', '10,3000'])
    assert.equal(r.status, 1)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /period 3000 needs at least 3001 valid prices, input has 2000/)
  })
})

describe('signals', () => {
  // A 200,000-row input: a 227-period grid of it takes a second or two, long enough to be
  // interrupted anywhere from start-up to the final rename.
  const big = join(tmp, 'big.csv')
  const lines = ['close']
  for (let i = 0; i < 200_000; i++) lines.push(String(100 + Math.sin(i / 50) * 5 + (i % 7) / 10))
  writeFileSync(big, lines.join('\n'))
  const delays = [0, 30, 80, 150, 250, 400, 600, 900, 1300, 1800]

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
    it(`${signal} at any moment leaves no temporary file and the old output, or the complete new one`, async () => {
      const outcomes = []
      for (const delay of delays) {
        const d = dir()
        const target = join(d, 'grid.parquet')
        writeFileSync(target, 'old')
        const child = spawn(process.execPath, [BIN, 'batch', big, '--periods', '5:231', '-o', target], { stdio: ['ignore', 'ignore', 'pipe'] })
        const exited = new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? s)))
        let stderr = ''
        child.stderr.on('data', (b) => (stderr += b))
        await new Promise((r) => setTimeout(r, delay))
        child.kill(signal)
        const status = await exited
        assert.deepEqual(readdirSync(d), ['grid.parquet'], `${signal} after ${delay} ms: ${stderr}`)
        // Before bin/run.js installs its handlers the signal's default action ends the process.
        if (status !== 0) assert.ok(status === code || status === signal, `${signal} after ${delay} ms: ${status} ${stderr}`)
        // The target is the old file, or, when the signal came after the replacement (maybe while
        // the process was exiting), the complete new one: never anything in between.
        const old = readFileSync(target).subarray(0, 3).toString() === 'old'
        if (status === 0 || !old) assert.equal(parquetRows(target), 200_000, `${signal} after ${delay} ms: complete`)
        outcomes.push(status)
      }
      assert.ok(outcomes.includes(code), `interrupted at least once: ${outcomes}`)
    })
  }
})

describe('CSV readers', () => {
  it('a one-column CSV keeps a row for every warm-up row', () => {
    const text = ok(['compute', PRICES, '-p', '20'])
    assert.deepEqual(csvColumns(text).header, ['trendflex_20'])
    assert.equal(text.split('\n')[1], '""')
  })
})
