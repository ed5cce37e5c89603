// Bad input, bad flags, bad outputs: each ends with the right exit code and one readable line on
// stderr that says what is wrong and where (file, line, row, flag, variable), with no stack trace
// and no raw bytes of the input.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, it } from 'node:test'

import { kernels } from 'trendflex'

import { parse } from 'csv-parse/sync'

import { BIN, FIX, PYTHON, ok, pyarrowRead, run, tempDir } from './cli.js'
import { ROOT } from './helpers.js'

const tmp = tempDir('errors')
const PRICES = join(FIX, 'prices.csv')
const file = (name, content) => {
  const path = join(tmp, name)
  writeFileSync(path, content)
  return path
}
const zstd = (bytes) => execFileSync(PYTHON, ['-c', 'import sys, pyarrow as pa; sys.stdout.buffer.write(pa.compress(sys.stdin.buffer.read(), codec="zstd", asbytes=True))'], { input: bytes })

// Inputs, made once.
const csvZst = file('prices.csv.zst', zstd(readFileSync(PRICES)))
const gz = gzipSync(readFileSync(PRICES))
const badGzip = file('bad.csv.gz', Buffer.concat([gz.subarray(0, 10), Buffer.from('this is not deflate data at all, not at all')]))
const cutGzip = file('cut.csv.gz', gz.subarray(0, gz.length / 2))
const cutZstd = file('cut.csv.zst', readFileSync(csvZst).subarray(0, 2000))
const notGzip = file('plain.csv.gz', 'ts,close\n1,2\n')
const truncatedParquet = join(tmp, 'truncated.parquet')
copyFileSync(join(FIX, 'prices.parquet'), truncatedParquet)
truncateSync(truncatedParquet, 40_000)
const fakeParquet = file('fake.parquet', 'ts,close\n1,2\n')
mkdirSync(join(tmp, 'a-directory'))
const parquets = JSON.parse(execFileSync(PYTHON, ['-c', `
import json, sys, pyarrow as pa, pyarrow.parquet as pq
d = sys.argv[1]
pq.write_table(pa.table({"close": pa.array(["1", "2"])}), f"{d}/text-price.parquet")
pq.write_table(pa.table({"close": [1.0, 2.0, 3.0], "tags": pa.array([[1], [2], [3]])}), f"{d}/list-keep.parquet")
closes = [100.0 + i for i in range(50)]; closes[30] = None
pq.write_table(pa.table({"close": closes}), f"{d}/gap.parquet", row_group_size=16)
print(json.dumps(["text-price", "list-keep", "gap"]))`, tmp], { encoding: 'utf8' }))
void parquets

const csv = (name, text) => file(name, text)
const cases = [
  // ---- input: files
  [1, ['compute', join(tmp, 'nope.csv')], /nope\.csv: no such file or directory$/],
  [1, ['compute', join(tmp, 'a-directory')], /a-directory: the directory holds no data files$/],
  [1, ['compute', csv('empty.csv', '')], /empty\.csv: empty input: there is no header line/],
  [1, ['compute', csv('blank.csv', '\n\n\r\n')], /blank\.csv: empty input: there is no header line/],
  [1, ['compute', csv('header-only.csv', 'ts,close\n')], /empty input: there are no prices/],
  [1, ['compute', csv('nan-only.csv', 'close\nNaN\n\nNA\n')], /no valid prices/],
  [1, ['compute', csv('short.csv', 'ts,Close\n1,100\n2,101\n3,102\n'), '-p', '5'], /period 5 needs at least 6 valid prices, input has 3/],
  // ---- input: columns
  [1, ['compute', PRICES, '-c', 'price'], /prices\.csv: column 'price' not found; available columns: ts, open, high, low, close, volume$/],
  [1, ['compute', csv('twice.csv', 'Close,close2,CLOSE\n1,2,3\n'), '-c', 'close'], /column 'close' is ambiguous: it matches 'Close' \(column 1\), 'CLOSE' \(column 3\)/],
  [1, ['compute', PRICES, '--keep', 'volume,nope'], /column 'nope' not found/],
  [1, ['compute', PRICES, '--no-header', '-c', 'close'], /column 'close': without a header, columns are numbers from 1 to 6/],
  [1, ['compute', PRICES, '--no-header', '-c', '7'], /column '7': without a header, columns are numbers from 1 to 6/],
  [1, ['compute', PRICES, '--no-header', '-c', '5'], /line 1, column 5: 'close' is not a number/],
  [1, ['compute', csv('semi.csv', 'ts;close\n1;2\n')], /semi\.csv: column 'close' not found; available columns: ts;close \(one column: is the delimiter right\? see --delimiter\)$/],
  // ---- input: values and records
  [1, ['compute', csv('abc.csv', 'ts,close\n1,100\n2,abc\n')], /abc\.csv: line 3, column close: 'abc' is not a number$/],
  [1, ['compute', csv('inf.csv', 'ts,close\n1,100\n2,1e999\n')], /line 3, column close: '1e999' is not a finite number/],
  [1, ['compute', csv('comma.csv', 'ts,close\n1,"1,5"\n')], /line 2, column close: '1,5' is not a number/],
  [1, ['compute', csv('more.csv', 'ts,close\n1,100\n2,101,extra\n')], /more\.csv: line 3: 3 fields where the header has 2/],
  [1, ['compute', csv('fewer.csv', 'ts,close,v\n1,100,5\n2,101\n')], /fewer\.csv: line 3: 2 fields where the header has 3/],
  [1, ['compute', csv('quote.csv', 'ts,close\n1,100\n2,"101\n3,102\n4,103\n')], /quote\.csv: line 3: a quoted field starts here and is never closed/],
  // found by a differential fuzz against Python's csv module: a bad first row or no rows with
  // --keep once aborted the process; a quote left open by `""` swallowed the next record; a lone
  // CR ended records but not lines
  [1, ['compute', csv('bad-first.csv', 'id,close\na,abc\nb,2\n'), '--keep', 'id', '-o', join(tmp, 'bad-first.parquet')], /bad-first\.csv: line 2, column close: 'abc' is not a number$/],
  [1, ['compute', csv('header-keep.csv', 'id,close\n'), '--keep', 'id', '-o', join(tmp, 'header-keep.parquet')], /empty input: there are no prices/],
  [1, ['compute', csv('doubled.csv', 'close,id\n1,a\n2,b\n3,"x""\nc,4\n'), '--keep', 'id'], /doubled\.csv: line 4: a quoted field starts here and is never closed/],
  [1, ['compute', csv('lone-cr.csv', 'ts,close\r1,1\r\r2,x\r')], /lone-cr\.csv: line 4, column close: 'x' is not a number$/],
  [1, ['compute', csv('escape.csv', 'ts,close\n1,\u001b[2J\n')], /line 2, column close: '\\u\{1b\}\[2J' is not a number/],
  [1, ['compute', file('latin1.csv', Buffer.from('ts,close,name\n1,100,caf\xe9\n', 'latin1')), '--keep', 'name'], /latin1\.csv: does not look like delimited text: a byte sequence that is not UTF-8 at byte 23 \(give CSV, TSV, their \.gz or \.zst, or Parquet\)$/],
  [1, ['compute', file('binary.csv', Buffer.from([0x74, 0x73, 0x0a, 0x00, 0xff, 0x13]))], /binary\.csv: does not look like delimited text: a NUL byte at byte 3/],
  // ---- input: compression and Parquet
  [1, ['compute', badGzip], /bad\.csv\.gz: the compressed data is corrupt or cut short/],
  [1, ['compute', cutGzip], /cut\.csv\.gz: the compressed data is corrupt or cut short/],
  [1, ['compute', cutZstd], /cut\.csv\.zst: the compressed data is corrupt or cut short/],
  [1, ['compute', notGzip], /plain\.csv\.gz: not gzip data \(it does not start with 1f 8b\)/],
  [1, ['compute', truncatedParquet], /truncated\.parquet: not a readable Parquet file/],
  [1, ['compute', fakeParquet], /fake\.parquet: not a Parquet file \(it does not start with PAR1\)/],
  [1, ['compute', join(tmp, 'text-price.parquet')], /text-price\.parquet: column close has type Utf8, not a number/],
  [1, ['compute', join(tmp, 'list-keep.parquet'), '--keep', 'tags'], /list-keep\.parquet: column tags has type List.*, which cannot be kept/],
  [1, ['compute', join(FIX, 'prices.parquet'), '-c', 'price'], /prices\.parquet: column 'price' not found; available columns: ts, open, high, low, close, volume/],
  // ---- input: gaps and keep types
  [1, ['compute', join(FIX, 'interior-gap.csv')], /interior-gap\.csv: line 1002: missing price after the first valid one \(--gaps error\)/],
  [1, ['compute', join(tmp, 'gap.parquet'), '-p', '5'], /gap\.parquet: row 31: missing price after the first valid one/],
  [1, ['compute', csv('keep-decl.csv', 'id,close\n7,100\nx9,101\n'), '--keep', 'id:int64', '-o', join(tmp, 'k.parquet')], /keep-decl\.csv: line 3, column id: 'x9' is not an integer \(declared --keep id:int64\)/],
  // ---- flags
  [2, ['compute', PRICES, '-p', '1'], /--period: Expected an integer greater than or equal to 2/],
  [2, ['compute', PRICES, '-p', 'x'], /--period: Expected an integer/],
  [2, ['compute', PRICES, '-p', '99999999999'], /--period: Expected an integer less than or equal to 4294967295/],
  [2, ['compute', PRICES, '-k', 'sse9'], /--kernel=sse9 to be one of: auto, scalar, avx2, avx512/],
  [2, ['compute', PRICES, '--gaps', 'skip'], /--gaps=skip to be one of/],
  [2, ['compute', PRICES, '--compression', 'brotli'], /--compression=brotli to be one of/],
  [2, ['compute', PRICES, '-f', 'xlsx'], /--format=xlsx to be one of: parquet, csv, arrow/],
  [2, ['compute', PRICES, '--threads', '2'], /Nonexistent flag: --threads/],
  [2, ['batch', PRICES, '--threads', '-1'], /--threads: Expected an integer greater than or equal to 0/],
  [2, ['compute', PRICES, '--bogus'], /Nonexistent flag: --bogus/],
  [2, ['compute', PRICES, '--delimiter', ';;'], /--delimiter: ';;' is not one single-byte character other than/],
  [2, ['compute', PRICES, '--delimiter', '"'], /--delimiter: '"' is not one single-byte character other than/],
  [2, ['compute', PRICES, '--delimiter', '€'], /--delimiter: '€' is not one single-byte character other than/],
  [2, ['batch', PRICES], /Missing required flag periods/],
  ...['5:3', '0:10', '5:10:0', 'a:b', '1:10', '1,5', '5:', '', '2:3:4:5'].map((spec) => [2, ['batch', PRICES, '--periods', spec], /--periods/]),
  [2, ['batch', PRICES, '--periods', '5:99999999999'], /--periods 5:99999999999: end must be an integer from 2 to 4294967295, got 99999999999/],
  [2, ['batch', PRICES, '--periods', '1,5'], /--periods 1,5: periods\[0\] must be an integer from 2 to 4294967295, got 1/],
  [2, ['batch', PRICES, '--periods', '10,20,10'], /--periods 10,20,10: period 10 is listed twice: every output column needs its own name/],
  [2, ['batch', PRICES, '--periods', '5:231', '--chunk-rows', '1000000'], /--chunk-rows 1000000 with 227 periods needs 1\.7 GiB per chunk; keep it under 1 GiB \(591267 rows here\)/],
  [2, ['compute', PRICES, '--chunk-rows', '0'], /--chunk-rows: Expected an integer greater than or equal to 1/],
  [2, ['compute', PRICES, '--keep', 'ts,TS'], /output column 'ts' would appear twice/],
  [2, ['compute', csv('clash.csv', 'trendflex_20,close\n1,2\n'), '--keep', 'trendflex_20'], /output column 'trendflex_20' would appear twice/],
  [2, ['compute', PRICES], /TRENDFLEX_KERNEL=bogus: not a kernel; set it to one of auto, scalar, avx2, avx512, or unset it/, { TRENDFLEX_KERNEL: 'bogus' }],
  ...kernels().unavailable.map((u) => [2, ['compute', PRICES, '-k', u.name], new RegExp(`kernel ${u.name} needs the CPU feature ${u.missing}`)]),
  // ---- the addon
  [1, ['compute', PRICES], /^trendflex: no native addon for linux-x64-gnu loads; tried TRENDFLEX_ADDON \/nonexistent\.node: .*Build it from source with `npm rebuild trendflex`/, { TRENDFLEX_ADDON: '/nonexistent.node' }],
  // ---- outputs
  [1, ['compute', PRICES, '-o', join(tmp, 'no-such-dir', 'x.csv')], /cannot write .*no-such-dir\/x\.csv: directory .*no-such-dir does not exist/],
  [1, ['compute', PRICES, '-o', join(tmp, 'a-directory')], /cannot write .*a-directory: it is a directory/],
  [1, ['compute', PRICES, '-o', '/dev/full'], /^trendflex: \/dev\/full: no space left on device$/],
  [2, ['compute', PRICES, '-o', join(tmp, 'x.csv.gz')], /does not compress text output/],
  [2, ['compute', PRICES, '-o', join(tmp, 'x.parquet'), '-f', 'arrow'], /--format arrow contradicts the output name/],
  [2, ['compute', PRICES, '-o', PRICES], /prices\.csv is the input file: write the output somewhere else/],
]

describe('bad input, flags and outputs: one line, the right exit code', () => {
  it(`has at least 60 cases (${cases.length})`, () => assert.ok(cases.length >= 60))
  for (const [code, args, message, env] of cases) {
    it(`exit ${code}: ${args.join(' ').replaceAll(tmp, '$TMP').replaceAll(ROOT, '.')}${env ? ` with ${JSON.stringify(env)}` : ''}`, () => {
      const r = run(args, { env })
      assert.equal(r.status, code, r.stderr)
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${JSON.stringify(r.stderr)}`)
      assert.match(r.stderr.trim(), /^trendflex: /)
      assert.match(r.stderr.trim(), message)
      assert.doesNotMatch(r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no raw control bytes')
      assert.equal(r.stdout, '', 'nothing on stdout')
    })
  }

  it('binary junk on stdin is refused without echoing it', () => {
    const junk = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256))
    const r = spawnSync(process.execPath, [BIN, 'compute'], { input: junk, encoding: 'utf8' })
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^trendflex: stdin: does not look like delimited text: a NUL byte at byte 0 \(give CSV, TSV, their \.gz or \.zst, or Parquet\)\n$/)
  })

  it('-h and --help teach, exit 0', () => {
    for (const args of [['compute', '-h'], ['batch', '--help'], ['--help']]) {
      const text = ok(args)
      assert.match(text, /USAGE/)
    }
    assert.match(ok(['compute', '-h']), /--no-header/)
  })
})

describe('what a fuzz found: nothing crashes, nothing is lost, nothing is left behind', () => {
  const dir = tempDir('fuzz-found')
  const leftovers = () => readdirSync(dir).filter((f) => f !== 'out.parquet' && f !== 'out.csv')

  it('an error on the first data row, with --keep into Parquet, leaves the old output and no temporary file', () => {
    const out = join(dir, 'out.parquet')
    writeFileSync(out, 'old')
    const r = run(['compute', file('first-bad.csv', 'id,close\na,abc\nb,2\n'), '--keep', 'id', '-o', out])
    assert.equal(r.status, 1, r.stderr)
    assert.equal(readFileSync(out, 'utf8'), 'old')
    assert.deepEqual(leftovers(), [])
  })

  // One series, and one kept as a group for --state (whose file is not written either).
  for (const more of [[], ['--state', 'STATE']]) {
    const place = 'job'
    it(`a panic inside the addon ${more.length ? 'with --state ' : ''}is one line, exit 1, and the Sink still cleans up`, () => {
      const out = join(dir, 'out.parquet')
      writeFileSync(out, 'old')
      const args = more.map((a) => (a === 'STATE' ? join(dir, 'panic.state') : a))
      const r = run(['batch', PRICES, '--periods', '10,20', '-o', out, ...args], { env: { TRENDFLEX_TEST_PANIC: place } })
      assert.equal(r.status, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`^trendflex: panicked at .*failpoint '${place}'.* \\(a bug in trendflex: please report it with the command that caused it\\)\n$`))
      assert.equal(readFileSync(out, 'utf8'), 'old')
      assert.deepEqual(leftovers(), [])
    })
  }

  it('a quoted field with doubled quotes and a line break, last in a file with no final newline, is read', () => {
    const input = file('mirror.csv', 'id,close\na,1\nb,2\n"a""b\n",3\nd,4')
    const rows = parse(ok(['compute', input, '-p', '2', '--keep', 'id']), { relax_column_count: false })
    assert.deepEqual(rows.map((r) => r[0]), ['id', 'a', 'b', 'a"b\n', 'd'])
  })

  it('kept text is written as it was read, whitespace too (CSV and Parquet)', () => {
    const input = file('spaces.csv', 'id,close\n" ",1\n"\t",2\n"\n",3\n,4\n')
    const rows = parse(ok(['compute', input, '-p', '2', '--keep', 'id']), { relax_column_count: false })
    assert.deepEqual(rows.map((r) => r[0]), ['id', ' ', '\t', '\n', ''])
    const pq = join(dir, 'spaces.parquet')
    ok(['compute', input, '-p', '2', '--keep', 'id', '-o', pq])
    assert.deepEqual(pyarrowRead(pq).columns.id, [' ', '\t', '\n', null])
  })
})

describe('as a newcomer types it: flags first, nothing piped, an output that cannot be made', () => {
  it('an input after --keep, --group-by or --partition-by stays the input (values are comma-separated)', () => {
    const want = ok(['compute', PRICES, '--keep', 'ts,close', '-p', '10'])
    assert.equal(ok(['compute', '--keep', 'ts,close', PRICES, '-p', '10']), want)
    assert.equal(ok(['compute', '--keep', 'ts', '--keep', 'close', PRICES, '-p', '10']), want, 'the flag given twice')
    const long = file('flags-first.csv', 'symbol,close\n' + Array.from({ length: 40 }, (_, i) => `${'AB'[i % 2]},${100 + Math.sin(i)}`).join('\n') + '\n')
    assert.equal(ok(['compute', '--group-by', 'symbol', long, '-p', '5']), ok(['compute', long, '--group-by', 'symbol', '-p', '5']))
    const ds = join(tmp, 'flags-first-ds')
    ok(['compute', '--partition-by', 'symbol', long, '--group-by', 'symbol', '-p', '5', '-o', ds])
    assert.deepEqual(readdirSync(ds).sort(), ['symbol=A', 'symbol=B'])
  })

  it('no input named and stdin a terminal: says so, exit 2, instead of waiting', () => {
    // `script` gives the command a terminal; `timeout` turns a wait into a failure.
    const r = spawnSync('script', ['-qec', `timeout 20 ${process.execPath} ${BIN} compute -p 5`, '/dev/null'], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
    assert.equal(r.status, 2, r.stdout + r.stderr)
    assert.match(r.stdout, /trendflex: no input: name a price file, or pipe one in \(stdin is a terminal\)/)
  })

  it('an output whose temporary file cannot be created is named as the user gave it', () => {
    const r = run(['compute', PRICES, '-o', '/proc/trendflex-out.csv'])
    assert.equal(r.status, 1, r.stderr)
    assert.match(r.stderr, /^trendflex: cannot write \/proc\/trendflex-out\.csv: [^\n]+\n$/)
    assert.doesNotMatch(r.stderr, /\.tmp|\.trendflex-/, 'not the temporary file')
  })
})
