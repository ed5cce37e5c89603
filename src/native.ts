// The only place that loads the native addon: a source build in native/node (made by `npm run
// build:native`, or by the install script where no prebuilt one fits), else the prebuilt one of
// the platform package (`trendflex-linux-x64-gnu`), installed as an optional dependency.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import type * as Binding from '../native/node/binding.cjs'

export type NativeBinding = typeof Binding

/** Which addon was loaded, for `trendflex --version` and bug reports. */
export interface AddonOrigin {
  /** `TRENDFLEX_ADDON` names a file; `source-built` is native/node's; `prebuilt` a platform package's. */
  kind: 'TRENDFLEX_ADDON' | 'source-built' | 'prebuilt'
  path: string
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))

/** The napi-rs name of this platform: `linux-x64-gnu`, `linux-x64-musl`, `darwin-arm64`, ... */
export function platformKey(): string {
  const { platform, arch } = process
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `${platform}-${arch}-msvc`
  return `${platform}-${arch}`
}

function isMusl(): boolean {
  try {
    return readFileSync('/usr/bin/ldd', 'latin1').includes('musl')
  } catch {
    return !(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime
  }
}

/** The addon's file name in native/node and in the platform package. */
export const addonFile = (key = platformKey()): string => `trendflex.${key}.node`

/** The platform package holding the prebuilt addon. */
export const platformPackage = (key = platformKey()): string => `trendflex-${key}`

/** Where an addon may be, in the order tried. */
export function addonCandidates(): AddonOrigin[] {
  const require = createRequire(import.meta.url)
  const key = platformKey()
  const found: AddonOrigin[] = []
  const override = process.env.TRENDFLEX_ADDON?.trim()
  if (override) return [{ kind: 'TRENDFLEX_ADDON', path: override }]
  const local = join(ROOT, 'native', 'node', addonFile(key))
  if (existsSync(local)) found.push({ kind: 'source-built', path: local })
  try {
    found.push({ kind: 'prebuilt', path: require.resolve(`${platformPackage(key)}/${addonFile(key)}`) })
  } catch {
    // not installed: npm skips an optional dependency whose os, cpu or libc do not match
  }
  return found
}

let cached: { binding: NativeBinding; origin: AddonOrigin } | undefined

/** The addon and where it came from, loaded on first use. Throws one message saying what was
 * looked for and how to build the addon when none loads. */
export function loadAddon(): { binding: NativeBinding; origin: AddonOrigin } {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  const failures: string[] = []
  for (const origin of addonCandidates()) {
    try {
      cached = { binding: require(origin.path) as NativeBinding, origin }
      return cached
    } catch (error) {
      failures.push(`${origin.kind} ${origin.path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
    }
  }
  const key = platformKey()
  const looked = failures.length ? `; tried ${failures.join('; ')}` : `: neither ${join('native', 'node', addonFile(key))} (a source build) nor the package ${platformPackage(key)} (prebuilt) is installed`
  const message =
    `no native addon for ${key} loads${looked}. ` +
    'Build it from source with `npm rebuild trendflex` (add -g for a global install; needs Rust >= 1.89 and cargo, from https://rustup.rs)'
  throw Object.assign(new Error(message), { code: 'ERR_NO_ADDON' })
}

/** The addon, loaded on first use. */
/** True once the addon is loaded (by {@link native} or {@link loadAddon}). */
export function addonLoaded(): boolean {
  return cached !== undefined
}

export function native(): NativeBinding {
  return loadAddon().binding
}
