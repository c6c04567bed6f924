/**
 * Whether the periodic pass over every stream is due for a portal at a tick that comes every
 * `tickMs`: always, unless its change notifications are live (`everyMs` defined), when every stream
 * is still polled as a safety net, once `everyMs` has (nearly) passed since `lastPolledAt`. Half a
 * tick of slack, so that a poll meant for every hour does not slip to the tick after the hour.
 * One rule for the single process (daemon.ts) and for a deployment of workers (src/work/scheduled-passes.ts).
 */
export function pollDue(opts: { now: number; lastPolledAt: number | null; tickMs: number; everyMs: number | undefined }): boolean {
  if (opts.everyMs === undefined || opts.lastPolledAt === null) return true;
  return opts.now - opts.lastPolledAt >= opts.everyMs - opts.tickMs / 2;
}
