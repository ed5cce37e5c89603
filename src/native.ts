// The only place that loads the native addon (built by `npm run build:native` from native/node).
import { createRequire } from 'node:module'

import type * as Binding from '../native/node/binding.cjs'

export type NativeBinding = typeof Binding

let cached: NativeBinding | undefined

/** The addon, loaded on first use. Throws a message saying how to build it when it is missing. */
export function native(): NativeBinding {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  try {
    cached = require('../native/node/binding.cjs') as NativeBinding
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new Error(
      `trendflex: the native addon is missing or failed to load (${reason}). ` +
        'Build it from the package directory with `npm run build:native` (needs Rust and cargo: https://rustup.rs).',
    )
  }
  return cached
}
