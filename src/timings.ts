// Where a run's time goes, for the benchmarks: with TRENDFLEX_TIMINGS=1 a JSON line of
// milliseconds per stage is printed to stderr at the end of the run.

const totals = new Map<string, number>()
const enabled = Boolean(process.env.TRENDFLEX_TIMINGS)
const nothing = () => {}

/** Starts timing one stretch of `stage`; call the returned function when it ends. */
export function stopwatch(stage: string): () => void {
  if (!enabled) return nothing
  const start = performance.now()
  return () => totals.set(stage, (totals.get(stage) ?? 0) + performance.now() - start)
}

/** Adds milliseconds measured elsewhere (the addon's job) to their stages. */
export function addTimings(ms: Record<string, number>): void {
  if (!enabled) return
  for (const [stage, v] of Object.entries(ms)) totals.set(stage, (totals.get(stage) ?? 0) + v)
}

/** Prints the stages (and `extra`) when enabled. */
export function reportTimings(extra: Record<string, number>): void {
  if (!enabled) return
  const round = (v: number) => Math.round(v * 10) / 10
  const stages = Object.fromEntries([...totals, ...Object.entries(extra)].map(([k, v]) => [k, round(v)]))
  process.stderr.write(`trendflex-timings ${JSON.stringify(stages)}\n`)
}
