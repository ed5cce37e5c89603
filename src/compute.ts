// The computing API: `trendflex`, `trendflexBatch`, their async forms and `TrendflexStream`.
// Arguments are checked here, before any native work; the computation writes straight into
// Float64Arrays the caller owns (or that are allocated here once), never into a copy.
import { rangeError, typeError } from './errors.js'
import { native } from './native.js'


/** Kernel names: `auto` picks the fastest this CPU runs (or what `TRENDFLEX_KERNEL` names). */
export type KernelName = 'auto' | 'scalar' | 'avx2' | 'avx512'

/** Every accepted kernel name, in documentation order. */
export const KERNEL_NAMES: readonly KernelName[] = ['auto', 'scalar', 'avx2', 'avx512']

/**
 * Which definition is computed: `vectorta` (default), bit-identical to VectorTA; or `ehlers`,
 * Ehlers' own EasyLanguage as TradeStation runs it (unrounded `P = L / 2`, the literal 3.14159,
 * the cosine in degrees, a zero-seeded filter). The README's "Flavours" gives both op for op.
 */
export type FlavorName = 'vectorta' | 'ehlers'

/** Every accepted flavour name, the default first. */
export const FLAVOR_NAMES: readonly FlavorName[] = ['vectorta', 'ehlers']

/** Periods `start..=end` by `step` (default 1). */
export interface PeriodRange {
  start: number
  end: number
  step?: number
}

/** A period grid: a range, or an explicit list (rows come out in list order). */
export type Periods = PeriodRange | readonly number[]

export interface SingleOptions {
  /** Kernel to run (default `auto`). All kernels give bit-identical results. */
  kernel?: KernelName
  /** Definition to compute (default `vectorta`); see {@link FlavorName}. */
  flavor?: FlavorName
  /**
   * Where to write the result, instead of a new array: at least `prices.length` values, not
   * overlapping `prices`. The result is this array (or its leading `subarray` if longer).
   */
  out?: Float64Array
}

export interface BatchOptions extends SingleOptions {
  /** Worker threads (default 0 = all cores). */
  threads?: number
}

export interface AsyncOptions {
  /**
   * Called on the main thread with the fraction done, increasing, ending with exactly 1.
   * Do not touch `prices` or `out` until the promise settles: a worker thread is using them.
   */
  onProgress?: (fraction: number) => void
}

/** A batch result: `values` is row-major, `periods.length` rows of `prices.length`. */
export interface BatchResult {
  periods: number[]
  values: Float64Array
}

/** What this CPU runs: `available` kernels (slowest first), what `auto` picks, CPU features. */
export interface KernelReport {
  available: string[]
  auto: string
  best: string
  features: string[]
  envOverride?: string
  unavailable: { name: string; missing: string }[]
}

function checkPrices(prices: unknown): asserts prices is Float64Array {
  if (!(prices instanceof Float64Array)) {
    throw typeError('ERR_INVALID_ARG_TYPE', `prices must be a Float64Array, got ${describe(prices)}`)
  }
}

function checkPeriod(period: unknown, what = 'period'): number {
  if (typeof period !== 'number' || !Number.isInteger(period) || period < 2 || period > 0xffffffff) {
    throw rangeError('ERR_PERIOD', `${what} must be an integer from 2 to 4294967295, got ${describe(period)}`)
  }
  return period
}

function checkKernel(kernel: unknown): KernelName {
  if (kernel === undefined) return 'auto'
  if (typeof kernel !== 'string' || !(KERNEL_NAMES as readonly string[]).includes(kernel)) {
    throw rangeError('ERR_UNKNOWN_KERNEL', `unknown kernel ${describe(kernel)}: expected one of ${KERNEL_NAMES.join(', ')}`)
  }
  return kernel as KernelName
}

function checkFlavor(flavor: unknown): FlavorName {
  if (flavor === undefined) return 'vectorta'
  if (typeof flavor !== 'string' || !(FLAVOR_NAMES as readonly string[]).includes(flavor)) {
    throw rangeError('ERR_UNKNOWN_FLAVOR', `unknown flavour ${describe(flavor)}: use vectorta or ehlers`)
  }
  return flavor as FlavorName
}

function checkThreads(threads: unknown): number {
  if (threads === undefined) return 0
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 0 || threads > 4096) {
    throw rangeError('ERR_THREADS', `threads must be a whole number from 0 (all cores) to 4096, got ${describe(threads)}`)
  }
  return threads
}

/** `periods` if no period is listed twice; the output names every column by its period. */
export function distinctPeriods(periods: number[]): number[] {
  const twice = periods.find((p, i) => periods.indexOf(p) !== i)
  if (twice !== undefined) throw rangeError('ERR_DUPLICATE_PERIOD', `period ${twice} is listed twice: every output column needs its own name`)
  return periods
}

/** Expands a period grid into the row order, checking every value. */
export function expandPeriods(periods: Periods): number[] {
  if (Array.isArray(periods)) {
    if (periods.length === 0) throw rangeError('ERR_EMPTY_PERIODS', 'the period list is empty: give at least one period')
    return periods.map((p, i) => checkPeriod(p, `periods[${i}]`))
  }
  if (typeof periods !== 'object' || periods === null) {
    throw typeError('ERR_INVALID_ARG_TYPE', `periods must be {start, end, step?} or an array of numbers, got ${describe(periods)}`)
  }
  const { start, end, step = 1 } = periods as PeriodRange
  checkPeriod(start, 'start')
  checkPeriod(end, 'end')
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 1) {
    throw rangeError('ERR_PERIOD_RANGE', `step must be an integer of at least 1, got ${describe(step)}`)
  }
  if (start > end) throw rangeError('ERR_PERIOD_RANGE', `start (${start}) is greater than end (${end})`)
  const list: number[] = []
  for (let p = start; p <= end; p += step) list.push(p)
  return list
}

/** The caller's `out` (checked) or a new array of `needed` values. */
function outputFor(prices: Float64Array, needed: number, out: unknown): Float64Array {
  if (out === undefined) return new Float64Array(needed)
  if (!(out instanceof Float64Array)) {
    throw typeError('ERR_INVALID_ARG_TYPE', `out must be a Float64Array, got ${describe(out)}`)
  }
  if (out.length < needed) {
    throw rangeError('ERR_OUTPUT_LENGTH', `out holds ${out.length} values, needs ${needed}`)
  }
  const view = out.length === needed ? out : out.subarray(0, needed)
  if (overlaps(prices, view)) throw rangeError('ERR_OVERLAP', 'out must not overlap prices')
  return view
}

function overlaps(a: Float64Array, b: Float64Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return (value as object).constructor?.name ?? typeof value
}

interface Prepared {
  periods: number[]
  kernel: KernelName
  flavor: FlavorName
  threads: number
  out: Float64Array
}

function prepare(prices: unknown, periods: number[], options: BatchOptions): Prepared {
  checkPrices(prices)
  const kernel = checkKernel(options.kernel)
  const flavor = checkFlavor(options.flavor)
  const threads = checkThreads(options.threads)
  return { periods, kernel, flavor, threads, out: outputFor(prices, periods.length * prices.length, options.out) }
}

/**
 * TrendFlex of one period, bit-identical to VectorTA (or Ehlers' EasyLanguage, with
 * `flavor: 'ehlers'`): NaN for the warm-up (the first valid price plus `period` values) and after
 * an interior NaN.
 *
 * @example
 * const tf = trendflex(closes, 20)                  // new Float64Array
 * trendflex(closes, 20, {out: reused, kernel: 'avx2'}) // into a buffer you keep
 * trendflex(closes, 20, {flavor: 'ehlers'})         // TradeStation's numbers
 */
export function trendflex(prices: Float64Array, period: number, options: SingleOptions = {}): Float64Array {
  const p = prepare(prices, [checkPeriod(period)], options)
  native().trendflexInto(prices, period, p.kernel, p.out, p.flavor)
  return p.out
}

/**
 * TrendFlex of every period of a grid over one series, written row-major into one array.
 *
 * @example
 * const {periods, values} = trendflexBatch(closes, {start: 5, end: 231})
 * const row = values.subarray(i * closes.length, (i + 1) * closes.length) // period periods[i]
 */
export function trendflexBatch(prices: Float64Array, periods: Periods, options: BatchOptions = {}): BatchResult {
  const p = prepare(prices, expandPeriods(periods), options)
  native().trendflexBatchInto(prices, p.periods, p.kernel, p.threads, p.out, p.flavor)
  return { periods: p.periods, values: p.out }
}

/** {@link trendflex} on a worker thread; the main thread stays free. */
export async function trendflexAsync(
  prices: Float64Array,
  period: number,
  options: SingleOptions & AsyncOptions = {},
): Promise<Float64Array> {
  const p = prepare(prices, [checkPeriod(period)], options)
  await native().trendflexIntoAsync(prices, period, p.kernel, p.out, p.flavor)
  options.onProgress?.(1)
  return p.out
}

/** {@link trendflexBatch} on worker threads; `onProgress` reports as blocks of prices finish. */
export async function trendflexBatchAsync(
  prices: Float64Array,
  periods: Periods,
  options: BatchOptions & AsyncOptions = {},
): Promise<BatchResult> {
  const p = prepare(prices, expandPeriods(periods), options)
  const { onProgress } = options
  let settled = false
  let last = 0
  let thrown: { error: unknown } | undefined
  // Reports can arrive after the work settles; they are dropped so progress only increases and
  // ends with exactly one 1. An exception from the callback rejects the promise.
  const report = onProgress
    ? (fraction: number) => {
        if (settled || thrown || fraction >= 1 || fraction <= last) return
        last = fraction
        try {
          onProgress(fraction)
        } catch (error) {
          thrown = { error }
        }
      }
    : undefined
  try {
    await native().trendflexBatchIntoAsync(prices, p.periods, p.kernel, p.threads, p.out, report, p.flavor)
  } finally {
    settled = true
  }
  if (thrown) throw thrown.error
  onProgress?.(1)
  return { periods: p.periods, values: p.out }
}

/** Kernels this CPU runs, which one `auto` picks and the CPU features behind that choice. */
export function kernels(): KernelReport {
  const info = native().kernelInfo()
  return { ...info, unavailable: info.unavailable.map((u) => ({ ...u })) }
}

export interface StreamOptions {
  kernel?: KernelName
  /** Definition to compute (default `vectorta`); see {@link FlavorName}. */
  flavor?: FlavorName
  /** Worker threads per chunk for several periods (default 0 = all cores). */
  threads?: number
  /**
   * Continue from what {@link TrendflexStream.saveState} gave (from any kernel, thread count or
   * process): the pushes that follow return, bit for bit, what one stream over the whole series
   * would have returned for those rows. The state must come from a stream of the same periods (in
   * the same order) and flavour: else a `RangeError` with code `ERR_STATE_MISMATCH` names the
   * difference; bytes that are not such a state, or are cut short or changed, give
   * `ERR_STATE_FOREIGN` or `ERR_STATE_CORRUPT`.
   */
  state?: Uint8Array
}

/**
 * TrendFlex over a series that arrives in chunks, with memory bounded by the periods, not the
 * series. Each push returns that chunk's outputs, `periods.length` rows of `prices.length`
 * (row-major), bit-identical to the one-shot functions for any chunk sizes.
 *
 * @example
 * const s = new TrendflexStream({start: 5, end: 231})
 * const out = new Float64Array(s.periods.length * chunkSize) // reused for every chunk
 * for await (const chunk of chunks) write(await s.pushAsync(chunk, out))
 * s.finish() // throws if the whole series was empty or too short
 */
export class TrendflexStream {
  /** The periods, in row order. */
  readonly periods: number[]
  /** The concrete kernel computing this stream (`auto` resolved). */
  readonly kernel: string
  /** The flavour computed. */
  readonly flavor: FlavorName
  /** Worker threads used per chunk. */
  readonly threads: number
  readonly #native: InstanceType<ReturnType<typeof native>['NativeStream']>

  constructor(periods: number | Periods, options: StreamOptions = {}) {
    this.periods = typeof periods === 'number' ? [checkPeriod(periods)] : expandPeriods(periods)
    if (options.state !== undefined && !(options.state instanceof Uint8Array)) {
      throw new TypeError('state must be a Uint8Array (a Buffer), as saveState() returns it')
    }
    this.#native = new (native().NativeStream)(this.periods, checkKernel(options.kernel), checkThreads(options.threads), checkFlavor(options.flavor), options.state)
    this.kernel = this.#native.kernel
    this.flavor = this.#native.flavor as FlavorName
    this.threads = this.#native.threads
  }

  /** Feeds the next chunk; returns its outputs (in `out` if given). */
  push(prices: Float64Array, out?: Float64Array): Float64Array {
    checkPrices(prices)
    const view = outputFor(prices, this.periods.length * prices.length, out)
    this.#native.push(prices, view)
    return view
  }

  /** {@link push} on a worker thread. Await it before the next push; leave `out` alone meanwhile. */
  async pushAsync(prices: Float64Array, out?: Float64Array): Promise<Float64Array> {
    checkPrices(prices)
    const view = outputFor(prices, this.periods.length * prices.length, out)
    await this.#native.pushAsync(prices, view)
    return view
  }

  /**
   * Everything needed to continue this stream later, in this process or another, bit for bit:
   * give it back as `options.state`. Small: for periods 5:231, about 8 KB (the last 231 prices,
   * two smoothed values per smoother, and each period's window sum and mean square).
   *
   * @example
   * const saved = stream.saveState()           // e.g. written to a file at the end of the day
   * const next = new TrendflexStream({start: 5, end: 231}, {state: saved})
   */
  saveState(): Buffer {
    return this.#native.saveState()
  }

  /** Checks the whole series pushed (not empty, some valid price, enough for every period). */
  finish(): void {
    this.#native.finish()
  }
}
