// Helpers of the tests that spawn bin/run.js: running it, reading what it wrote back with
// independent readers (csv-parse here; pyarrow, polars and pandas in the venv that
// scripts/test-env.sh makes).
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

import { parse } from 'csv-parse/sync'

import { ROOT, firstDifference } from './helpers.js'

export const BIN = join(ROOT, 'bin', 'run.js')
export const FIX = join(ROOT, 'fixtures')
export const PYTHON = join(ROOT, '.venv', 'bin', 'python')

/** A fresh directory, removed when the test file ends. */
export function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `trendflex-${name}-`))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function run(args, { input, env } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 28 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

export function ok(args, options) {
  const r = run(args, options)
  assert.equal(r.status, 0, `trendflex ${args.join(' ')}: ${r.stderr}`)
  assert.equal(r.stderr, '', 'nothing on stderr on success')
  return r.stdout
}

/** Runs `code` in the test venv's Python with `args`; returns what it prints, parsed as JSON. */
export function python(code, ...args) {
  return JSON.parse(execFileSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 }))
}

/** CSV text -> {header, cols: column name -> Float64Array (empty field = NaN)}. */
export function csvColumns(text) {
  const rows = parse(text, { relax_column_count: false })
  const header = rows[0]
  const cols = Object.fromEntries(header.map((h, j) => [h, Float64Array.from(rows.slice(1), (r) => (r[j] === '' ? NaN : Number(r[j])))]))
  return { header, cols, rows: rows.slice(1) }
}

export function fixtureColumn(file, name) {
  return csvColumns(readFileSync(join(FIX, file), 'utf8')).cols[name]
}

export function assertSameBits(got, want, what) {
  const i = firstDifference(got, want)
  assert.equal(i, -1, `${what}: index ${i}: got ${got[i]}, want ${want[i]}`)
}

/** Rows in a Parquet file's footer, as pyarrow reads it. */
export function parquetRows(path) {
  return python('import sys, json, pyarrow.parquet as pq; print(json.dumps(pq.read_metadata(sys.argv[1]).num_rows))', path)
}

/** Our Parquet read with pyarrow: schema, columns (null -> null), footer metadata. */
export function pyarrowRead(path) {
  return python(`
import json, sys, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]); md = pq.read_metadata(sys.argv[1])
print(json.dumps({"schema": [[f.name, str(f.type)] for f in t.schema], "rows": t.num_rows, "row_groups": md.num_row_groups,
  "columns": {n: t.column(n).to_pylist() for n in t.column_names}, "meta": json.loads(md.metadata[b"trendflex"])}))`, path)
}

/**
 * A wide output read by pyarrow into Float64Arrays (null -> NaN, through a raw f64 file): a
 * Parquet file (with its row-group sizes, and every row group's min/max statistics checked
 * against its data) or an Arrow IPC stream file.
 */
export function pyarrowGrid(path, format = 'parquet') {
  const raw = `${path}.f64`
  const info = python(`
import json, sys, pyarrow as pa, pyarrow.compute as pc, pyarrow.ipc as ipc, pyarrow.parquet as pq
fmt, info = sys.argv[3], {}
if fmt == 'parquet':
    f = pq.ParquetFile(sys.argv[1]); t = f.read()
    checked, stale = 0, []
    for g in range(f.num_row_groups):
        rg = f.read_row_group(g)
        for j, n in enumerate(f.schema_arrow.names):
            st = f.metadata.row_group(g).column(j).statistics
            if not n.startswith('trendflex_') or rg.column(n).null_count == len(rg): continue
            mm = pc.min_max(rg.column(n))
            if st is None or not st.has_min_max: stale.append([g, n, 'no min/max']); continue
            checked += 1
            if (mm['min'].as_py(), mm['max'].as_py()) != (st.min, st.max): stale.append([g, n])
    info = {"row_groups": [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)], "stale_stats": stale, "stats_checked": checked,
            "meta": json.loads(f.metadata.metadata[b"trendflex"])}
else:
    r = ipc.open_stream(pa.OSFile(sys.argv[1])); t = r.read_all()
    info = {"meta": json.loads(r.schema.metadata[b"trendflex"])}
names = [n for n in t.column_names if n.startswith('trendflex_')]
with open(sys.argv[2], 'wb') as out:
    for n in names:
        a = pc.fill_null(t.column(n), float('nan')).combine_chunks()
        out.write(a.buffers()[1].to_pybytes()[8 * a.offset : 8 * (a.offset + len(a))])
info.update({"names": names, "rows": t.num_rows, "schema": [[f.name, str(f.type)] for f in t.schema],
             "nulls": {n: t.column(n).null_count for n in names}})
print(json.dumps(info))`, path, raw, format)
  // A copy of exactly the file's bytes: a small read may sit inside Node's shared buffer pool.
  const bytes = readFileSync(raw)
  const all = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
  rmSync(raw)
  info.columns = Object.fromEntries(info.names.map((n, j) => [n, all.subarray(j * info.rows, (j + 1) * info.rows)]))
  return info
}
