import type { Logger } from '../log.ts';

/**
 * "Rescore now" for the card API and the preview, one place for both: at most one rescore per
 * portal and contact per `minIntervalMs` (a second request in that time starts nothing and
 * answers with the running or last one's state), and a request waits for it at most `waitMs`:
 * the daemon's rescore can wait for a running sync pass, longer than a CRM's proxy waits for a
 * card fetch (its provider's card request auth cites the figure),
 * so the card gets the cached scores with `rescore: "running"` and polls.
 */

export const RESCORE_MIN_INTERVAL_MS = 30_000;
export const RESCORE_WAIT_MS = 2_000;

/** what a card payload says about a rescore in progress or just failed */
export type RescoreMark = 'running' | 'failed';
export type RescoreOutcome = { started: boolean; state: 'done' | RescoreMark };

export type Rescores = {
  /** starts a rescore unless one ran or runs within the interval; waits at most `waitMs` for it */
  request(portal: string, contactId: string): Promise<RescoreOutcome>;
  /** the mark to show on a card read: running, or failed (until the interval ends) */
  mark(portal: string, contactId: string): RescoreMark | undefined;
};

type Entry = { startedAt: number; state: 'running' | 'done' | 'failed'; settled: Promise<void> };

export function createRescores(o: {
  rescore: (portal: string, contactId: string) => Promise<void>;
  now: () => number;
  logger: Logger;
  minIntervalMs?: number;
  waitMs?: number;
}): Rescores {
  const minIntervalMs = o.minIntervalMs ?? RESCORE_MIN_INTERVAL_MS;
  const waitMs = o.waitMs ?? RESCORE_WAIT_MS;
  const entries = new Map<string, Entry>();
  const key = (portal: string, contactId: string) => `${portal}\u0000${contactId}`;

  function prune(now: number): void {
    if (entries.size < 1000) return;
    for (const [k, e] of entries) if (e.state !== 'running' && now - e.startedAt >= minIntervalMs) entries.delete(k);
  }

  return {
    async request(portal, contactId) {
      const now = o.now();
      const k = key(portal, contactId);
      const last = entries.get(k);
      if (last !== undefined && (last.state === 'running' || now - last.startedAt < minIntervalMs)) {
        return { started: false, state: last.state };
      }
      prune(now);
      const entry: Entry = { startedAt: now, state: 'running', settled: Promise.resolve() };
      entry.settled = Promise.resolve()
        .then(() => o.rescore(portal, contactId))
        .then(
          () => {
            entry.state = 'done';
          },
          (e: unknown) => {
            entry.state = 'failed';
            o.logger.error({ portal, contactId, err: e instanceof Error ? e.message : String(e) }, 'rescore failed');
          },
        );
      entries.set(k, entry);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([entry.settled, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
      return { started: true, state: entry.state };
    },
    mark(portal, contactId) {
      const e = entries.get(key(portal, contactId));
      if (e === undefined || e.state === 'done') return undefined;
      if (e.state === 'failed' && o.now() - e.startedAt >= minIntervalMs) return undefined;
      return e.state;
    },
  };
}
