// The period grammar of `--periods`: START:END[:STEP] or P1,P2,... (rows in the given order).
// What a period may be, and that none may repeat, are the API's rules (`expandPeriods`,
// `distinctPeriods`): the grammar only reads the numbers.
import { distinctPeriods, expandPeriods } from '../compute.js'
import { CliError, usageError } from '../errors.js'

const INT = /^\d+$/

function int(text: string, what: string, spec: string): number {
  const t = text.trim()
  if (!INT.test(t)) throw usageError(`--periods ${spec}: ${what} '${text}' is not a whole number`)
  return Number(t)
}

/** Parses `5:231`, `10:200:10` or `10,20,50` into the period list, or throws a usage error. */
export function parsePeriods(spec: string): number[] {
  const s = spec.trim()
  if (s === '') throw usageError('--periods is empty: give START:END[:STEP] or P1,P2,...')
  const parts = s.includes(':') ? s.split(':') : undefined
  if (parts !== undefined && parts.length > 3) throw usageError(`--periods ${spec}: expected START:END[:STEP]`)
  let list: number[]
  try {
    list =
      parts === undefined
        ? distinctPeriods(expandPeriods(s.split(',').map((p) => int(p, 'period', spec))))
        : expandPeriods({ start: int(parts[0]!, 'start', spec), end: int(parts[1]!, 'end', spec), step: parts[2] === undefined ? 1 : int(parts[2], 'step', spec) })
  } catch (error) {
    throw error instanceof CliError ? error : usageError(`--periods ${spec}: ${(error as Error).message}`)
  }
  if (list.length > 100_000) throw usageError(`--periods ${spec}: ${list.length} periods is more than 100000`)
  return list
}
