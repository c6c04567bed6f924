import type { Db } from './db.ts';

/** CRM API calls per portal, bucketed by minute, so `rapport status` can show usage against the limit. */
export function createApiUsageRepo(db: Db, now: () => number) {
  const add = db.prepare<[string, number, number, number]>(`
    INSERT INTO api_usage (portal, minute, calls, rate_limited) VALUES (?, ?, ?, ?)
    ON CONFLICT (portal, minute) DO UPDATE SET calls = calls + excluded.calls, rate_limited = rate_limited + excluded.rate_limited`);
  const since = db.prepare<[string, number], { calls: number | null; rate_limited: number | null; peak: number | null }>(
    'SELECT SUM(calls) AS calls, SUM(rate_limited) AS rate_limited, MAX(calls) AS peak FROM api_usage WHERE portal = ? AND minute >= ?',
  );
  const prune = db.prepare<[number]>('DELETE FROM api_usage WHERE minute < ?');
  return {
    record(portal: string, calls: number, rateLimited: number): void {
      if (calls === 0 && rateLimited === 0) return;
      add.run(portal, Math.floor(now() / 60_000), calls, rateLimited);
    },
    /** Calls and 429s in the last `ms`, and the busiest minute. */
    since(portal: string, ms: number): { calls: number; rateLimited: number; peakPerMinute: number } {
      const r = since.get(portal, Math.floor((now() - ms) / 60_000));
      return { calls: r?.calls ?? 0, rateLimited: r?.rate_limited ?? 0, peakPerMinute: r?.peak ?? 0 };
    },
    /** keeps a week */
    prune(): number {
      return prune.run(Math.floor((now() - 7 * 86_400_000) / 60_000)).changes;
    },
  };
}
