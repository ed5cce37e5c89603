// The compute step of a job run chunk by chunk from JS: with --group-by, one series per group,
// each computed by its own stream in the addon; with --state, --resume or --follow, the whole
// series as one group, whose state is saved and restored. A chunk goes in and the record batch
// of its results comes out, over the slot's memory. (One series without those runs whole in the
// addon: ./pipeline.ts.)
import type * as arrow from 'apache-arrow'

import type { NativeGroupedStream } from '../../native/node/binding.cjs'
import type { FlavorName, KernelName } from '../compute.js'
import { dataError, toCliError, usageError } from '../errors.js'
import { columnBuffers, typeName } from '../io/arrow-types.js'
import type { Gaps, InputChunk } from '../io/readers/index.js'
import { native } from '../native.js'
import type { ResultSlot } from './chunks.js'

export interface Series {
  /** The concrete kernel. */
  readonly kernel: string
  /** Computes `chunk` into `slot`; its batch: the chunk's keep columns, then the results. */
  push(chunk: InputChunk, slot: ResultSlot, schema: arrow.Schema): Promise<arrow.RecordBatch>
  /** True once no group can fail for lack of data any more: a stream may get output. */
  settled(): boolean
  /** The whole-input checks, once the input has ended: throws, or returns a warning (or nothing). */
  finish(): string | undefined
  /** For the output's metadata; `final`: the input has ended. */
  metadata(final: boolean): Record<string, unknown>
  /** The bytes of a state file with every series' state (`--state`), once a chunk has made the
   * series; else undefined. */
  saveState(): Buffer | undefined
}

export interface SeriesOptions {
  periods: number[]
  kernel: KernelName
  flavor: FlavorName
  threads: number
  gaps: Gaps
  /** The group columns (the first keep columns of every chunk); none: one series. */
  groupBy: string[]
  /** A group too short for a period is an error, not nulls. */
  strict: boolean
  /** The input, for messages. */
  name: string
  /** The price column, as the input names it (recorded in a state). */
  column: string
  /** Every keep column of a chunk, as the input names them: the group columns first. */
  keepNames: string[]
  /** A state file to continue from (`--resume`). */
  resume?: { path: string; bytes: Buffer }
}

export function openSeries(o: SeriesOptions): Series {
  try {
    return new Grouped(o)
  } catch (error) {
    throw toCliError(error)
  }
}

/** Groups listed by name in the warning about short groups, at most. */
const LISTED_GROUPS = 3

class Grouped implements Series {
  #stream: NativeGroupedStream | undefined

  constructor(readonly o: SeriesOptions) {}

  get kernel(): string {
    return this.#stream?.kernel ?? this.o.kernel
  }

  async push(chunk: InputChunk, slot: ResultSlot, schema: arrow.Schema): Promise<arrow.RecordBatch> {
    // Made with the first chunk, which says the keep columns' types.
    this.#stream ??= this.#open(chunk.keep)
    const n = chunk.rows
    const r = await this.#stream.pushAsync(
      chunk.keep.map(columnBuffers),
      chunk.prices,
      slot.values.subarray(0, n * this.o.periods.length),
      slot.validity,
      slot.stride,
      chunk.firstRow,
      chunk.lines,
      this.o.name,
    )
    return slot.batch(schema, chunk.keep, r.nullCounts, n)
  }

  #open(keep: arrow.Data[]): NativeGroupedStream {
    const resume = this.o.resume
    const fields = keep.map((d, i) => ({ name: this.o.keepNames[i]!, type: typeName(d.type) ?? String(d.type) }))
    const keys = this.o.groupBy.length
    try {
      return new (native().NativeGroupedStream)(
        this.o.periods,
        this.o.kernel,
        this.o.threads,
        this.o.gaps,
        fields.slice(0, keys).map((f, i) => ({ ...f, name: this.o.groupBy[i]! })),
        this.o.flavor,
        this.o.column,
        resume?.bytes,
        fields.slice(keys),
      )
    } catch (error) {
      const e = error as { code?: string; message: string }
      // A state of another job is a usage mistake (exit 2); a damaged or foreign file, bad data.
      if (resume && e.code === 'ERR_STATE_MISMATCH') throw usageError(`--resume ${resume.path}: ${e.message}`)
      if (resume && e.code?.startsWith('ERR_STATE')) throw dataError(`--resume ${resume.path}: ${e.message}`)
      throw error
    }
  }

  saveState(): Buffer | undefined {
    return this.#stream?.saveState()
  }

  /** Any group may still turn out short until the input ends; only --strict must wait for it. */
  settled(): boolean {
    return !this.o.strict
  }

  finish(): string | undefined {
    const short = this.#stream?.finish() ?? []
    if (!short.length) return undefined
    // "input has" is the core's word for a whole series; here it is one group's.
    for (const s of short) s.reason = s.reason.replace(', input has ', ', it has ')
    const first = short[0]!
    if (!this.o.groupBy.length) {
      // One series, computed as one group for --state: too few prices so far is nulls and a
      // warning, since a later --resume continues it.
      const reason = first.reason.replace(', it has ', ', the series has ')
      if (this.o.strict) throw dataError(`${this.o.name}: ${reason} (--strict)`)
      return `${reason}: its outputs are null until it has${this.o.resume ? '' : ' (a later --resume continues the series)'}`
    }
    if (this.o.strict) throw dataError(`${first.name}: ${first.reason} (--strict)`)
    const listed = short.slice(0, LISTED_GROUPS).map((s) => `${s.name} (${s.reason})`)
    const more = short.length > LISTED_GROUPS ? `, and ${short.length - LISTED_GROUPS} more` : ''
    return `${short.length} of ${this.#stream!.groups} groups lack data for some periods, which are null there: ${listed.join('; ')}${more}. --strict makes this an error`
  }

  metadata(final: boolean): Record<string, unknown> {
    if (!this.o.groupBy.length) return {}
    return { group_by: this.o.groupBy, groups: final ? (this.#stream?.groups ?? 0) : null }
  }
}
