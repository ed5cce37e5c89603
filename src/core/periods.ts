// The period grammar of `--periods`: START:END[:STEP] or P1,P2,... (rows in the given order).
import { expandPeriods } from '../compute.js'
import { usageError } from '../errors.js'

const INT = /^\d+$/

/** The largest period the kernels take (a 32-bit count). */
const MAX_PERIOD = 4294967295

function int(text: string, what: string, spec: string): number {
  const t = text.trim()
  if (!INT.test(t)) throw usageError(`--periods ${spec}: ${what} '${text}' is not a whole number`)
  if (Number(t) > MAX_PERIOD) throw usageError(`--periods ${spec}: ${what} ${t} is too large: periods go up to ${MAX_PERIOD}`)
  return Number(t)
}

/** Parses `5:231`, `10:200:10` or `10,20,50` into the period list, or throws a usage error. */
export function parsePeriods(spec: string): number[] {
  const s = spec.trim()
  if (s === '') throw usageError('--periods is empty: give START:END[:STEP] or P1,P2,...')
  let list: number[]
  if (s.includes(':')) {
    const parts = s.split(':')
    if (parts.length > 3) throw usageError(`--periods ${spec}: expected START:END[:STEP]`)
    const [start, end, step] = [int(parts[0]!, 'start', spec), int(parts[1]!, 'end', spec), parts[2] === undefined ? 1 : int(parts[2], 'step', spec)]
    if (step < 1) throw usageError(`--periods ${spec}: step must be at least 1`)
    if (start < 2) throw usageError(`--periods ${spec}: periods start at 2, got ${start}`)
    if (start > end) throw usageError(`--periods ${spec}: start ${start} is greater than end ${end}`)
    list = expandPeriods({ start, end, step })
  } else {
    list = s.split(',').map((p) => int(p, 'period', spec))
    const bad = list.find((p) => p < 2)
    if (bad !== undefined) throw usageError(`--periods ${spec}: every period must be at least 2, got ${bad}`)
  }
  if (list.length > 100_000) throw usageError(`--periods ${spec}: ${list.length} periods is more than 100000`)
  return list
}
