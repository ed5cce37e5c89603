// Column lookup by name: an exact match first, then a unique case-insensitive one.
import { dataError } from '../errors.js'

export function matchColumn(names: string[], wanted: string, source: string): string {
  if (names.includes(wanted)) return wanted
  const folded = names.filter((n) => n.toLowerCase() === wanted.toLowerCase())
  if (folded.length === 1) return folded[0]!
  const list = names.length > 50 ? `${names.slice(0, 50).join(', ')}, ...` : names.join(', ')
  if (folded.length > 1) throw dataError(`${source}: column '${wanted}' is ambiguous (${folded.join(', ')}); give its exact name`)
  throw dataError(`${source}: column '${wanted}' not found; available columns: ${list}`)
}
