// Progress bars on stderr (cli-progress): reading, computing, writing. Drawn only when enabled
// (by default when stderr is a terminal) and only once a run has lasted a moment. The total is
// the input's row count when its format says (Parquet), else estimated from the bytes read of a
// file of known size; for stdin and the like the bars show rows and MB/s instead.
import { createRequire } from 'node:module'

import type cliProgress from 'cli-progress'

const DELAY_MS = 400

export class Progress {
  #bars: cliProgress.MultiBar | undefined
  #read: cliProgress.SingleBar | undefined
  #computed: cliProgress.SingleBar | undefined
  #written: cliProgress.SingleBar | undefined
  #timer: NodeJS.Timeout | undefined
  #rows: number | undefined
  #bytes: number | undefined
  #bytesRead = 0
  #started = 0
  #values = { read: 0, computed: 0, written: 0 }

  constructor(readonly enabled: boolean) {}

  /** Starts the clock; bars appear after a moment. `totalRows`, `inputBytes` when known. */
  start(totalRows: number | undefined, inputBytes: number | undefined): void {
    if (!this.enabled) return
    this.#rows = totalRows
    this.#bytes = inputBytes
    this.#started = performance.now()
    this.#timer = setTimeout(() => this.#draw(), DELAY_MS)
    this.#timer.unref()
  }

  /** The row total: known, or estimated from the share of the file read so far. */
  #total(): number | undefined {
    if (this.#rows !== undefined) return this.#rows
    if (!this.#bytes || !this.#bytesRead) return undefined
    return Math.max(this.#values.read, Math.round((this.#values.read * this.#bytes) / this.#bytesRead))
  }

  #draw(): void {
    // Loaded only when bars are drawn: most runs are too short or not on a terminal.
    const bars = createRequire(import.meta.url)('cli-progress') as typeof cliProgress
    const known = this.#total() !== undefined
    this.#bars = new bars.MultiBar(
      {
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        format: known ? ' {label} |{bar}| {value} of {total} rows' : ' {label} {value} rows, {rate} MB/s',
        barsize: 30,
      },
      bars.Presets.shades_classic,
    )
    const total = this.#total() ?? 1
    const rate = { rate: '0' }
    this.#read = this.#bars.create(total, this.#values.read, { label: 'read   ', ...rate })
    this.#computed = this.#bars.create(total, this.#values.computed, { label: 'compute', ...rate })
    this.#written = this.#bars.create(total, this.#values.written, { label: 'write  ', ...rate })
  }

  #set(bar: cliProgress.SingleBar | undefined, value: number): void {
    if (!bar) return
    const total = this.#total()
    bar.setTotal(Math.max(total ?? value, value, 1))
    const seconds = (performance.now() - this.#started) / 1000
    bar.update(value, { rate: (this.#bytesRead / 1e6 / Math.max(seconds, 1e-3)).toFixed(0) })
  }

  read(rows: number, bytesRead: number): void {
    this.#values.read = rows
    this.#bytesRead = bytesRead
    this.#set(this.#read, rows)
  }

  computed(rows: number): void {
    this.#values.computed = rows
    this.#set(this.#computed, rows)
  }

  written(rows: number): void {
    this.#values.written = rows
    this.#set(this.#written, rows)
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#bars?.stop()
    this.#bars = undefined
  }
}
