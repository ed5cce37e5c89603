// CSV output: shortest round-trip floats that always read back as floats (`5.0`, `1e-7`), empty
// fields for missing values, formatted in parallel in the addon.
import type { FormatSpec } from './format.js'

export const csv: FormatSpec = {
  name: 'csv',
  extensions: ['.csv'],
  binary: false,
  metadataAtFinish: false,
}
