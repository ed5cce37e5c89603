// The programmatic API: `import {trendflex, trendflexBatch, ...} from 'trendflex'`.
export * from './compute.js'
export { trendflexBatchTable } from './table.js'
export type { CodedError } from './errors.js'
