// `trendflex --version`: the version, and what a bug report needs beside it: which native addon
// was loaded (prebuilt or source-built, and its path) and the kernels this CPU runs.
import { readFileSync } from 'node:fs'

import { kernels } from './compute.js'
import { loadAddon, platformKey } from './native.js'

/** The lines `--version` prints, and whether an addon loaded. */
export function versionReport(): { text: string; ok: boolean } {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  const lines = [`trendflex/${version} ${platformKey()} node-${process.version}`]
  try {
    const { origin } = loadAddon()
    const k = kernels()
    lines.push(`addon: ${origin.kind} ${origin.path}`, `kernels: ${k.available.join(', ')} (auto: ${k.auto})`)
    return { text: lines.join('\n'), ok: true }
  } catch (error) {
    lines.push(`addon: none loads (${(error as Error).message})`)
    return { text: lines.join('\n'), ok: false }
  }
}
