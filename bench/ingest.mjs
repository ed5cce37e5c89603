#!/usr/bin/env node
// CSV ingest through Node: the native reader opened from JS, every chunk read into a reused
// buffer (a price and a timestamp keep column), five runs; prints rows, seconds and MB/s.
//
//   node bench/ingest.mjs FILE
import { statSync } from 'node:fs'

import { openInput, resolveInputs } from '../dist/io/readers/index.js'

const path = process.argv[2]
for (let r = 0; r < 5; r++) {
  const t = performance.now()
  const src = await openInput(await resolveInputs([path]), { column: 'close', keep: [{ name: 'timestamp' }], header: true, keepAsText: false, gaps: 'error', chunkRows: 65536 })
  const buf = new Float64Array(65536)
  let rows = 0
  for (;;) {
    const c = await src.read(buf)
    if (!c.rows) break
    rows += c.rows
  }
  const s = (performance.now() - t) / 1000
  console.log(rows, s.toFixed(3), 's', (statSync(path).size / 1e6 / s).toFixed(0), 'MB/s')
}
