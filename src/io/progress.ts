// Progress bars on stderr (cli-progress): reading, computing, writing. Drawn only when enabled
// (by default when stderr is a terminal) and only once a run has lasted a moment.
import { createRequire } from 'node:module'

import type cliProgress from 'cli-progress'

const DELAY_MS = 400

export class Progress {
  #bars: cliProgress.MultiBar | undefined
  #read: cliProgress.SingleBar | undefined
  #computed: cliProgress.SingleBar | undefined
  #written: cliProgress.SingleBar | undefined
  #timer: NodeJS.Timeout | undefined
  #total = 0
  #values = { read: 0, computed: 0, written: 0 }

  constructor(readonly enabled: boolean) {}

  /** Starts the clock; bars appear after a moment. `totalRows` when known. */
  start(totalRows: number | undefined): void {
    if (!this.enabled) return
    this.#total = totalRows ?? 0
    this.#timer = setTimeout(() => this.#draw(), DELAY_MS)
    this.#timer.unref()
  }

  #draw(): void {
    // Loaded only when bars are drawn: most runs are too short or not on a terminal.
    const bars = createRequire(import.meta.url)('cli-progress') as typeof cliProgress
    this.#bars = new bars.MultiBar(
      {
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        format: ' {label} |{bar}| {value} rows{of}',
        barsize: 30,
      },
      bars.Presets.shades_classic,
    )
    const of = this.#total ? ` of ${this.#total}` : ''
    const total = this.#total || 1
    this.#read = this.#bars.create(total, this.#values.read, { label: 'read   ', of })
    this.#computed = this.#bars.create(total, this.#values.computed, { label: 'compute', of })
    this.#written = this.#bars.create(total, this.#values.written, { label: 'write  ', of })
  }

  #set(bar: cliProgress.SingleBar | undefined, value: number): void {
    if (!bar) return
    if (!this.#total) bar.setTotal(Math.max(value, 1))
    bar.update(value)
  }

  read(rows: number): void {
    this.#values.read = rows
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
