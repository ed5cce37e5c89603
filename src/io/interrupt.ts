// Ctrl-C, SIGTERM and SIGHUP. They end the process at once (bin/run.js; the exit hook removes
// temporary files), unless a job has asked to be told instead: a --follow session then finishes
// what it has read (every row written, the state saved) and exits with the signal's code itself.
// Either way a read still waiting on a feed (stdin, a FIFO) is ended first: Node's exit waits for
// its worker threads, and one blocked on a quiet feed would never return.
import { addonLoaded, native } from '../native.js'

type Handler = (code: number) => void

let handler: Handler | undefined

/** Tells `h` of the next signal instead of exiting; returns the function that stops telling. */
export function onInterrupt(h: Handler): () => void {
  handler = h
  return () => {
    if (handler === h) handler = undefined
  }
}

/** Called by the signal handlers: true when a job took the signal (a second one exits at once). */
export function interrupt(code: number): boolean {
  // No read can be waiting before the addon is loaded.
  if (addonLoaded()) native().cancelReads()
  const h = handler
  if (!h) return false
  handler = undefined
  h(code)
  return true
}
