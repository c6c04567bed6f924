import type { StreamFreshness } from '../provider.ts';
import type { Cursor } from '../types.ts';
import { decodeCursor } from './cursor.ts';

/** Every incremental pass re-reads this much before its bookmark: HubSpot's search index trails writes (reportedly up to ~30 s, https://developers.hubspot.com/docs/api/crm/search). */
export const HUBSPOT_LOOKBACK_MS = 30_000;
/** How often a stream re-lists everything: the only read that sees association changes and changes the search index showed too late. */
export const HUBSPOT_SWEEP_EVERY_MS = 6 * 3_600_000;

/**
 * What a HubSpot stream cursor says about changes the stream may not have seen (`rapport status`).
 * A change HubSpot's search index shows within the lookback is read by the next pass; one it
 * shows later is missed by the incremental search (its bookmark has moved past it) and waits for
 * the next full re-list. So the stream may be missing changes made since its last re-list began.
 */
export function hubspotFreshness(cursor: Cursor, now: number, opts = { lookbackMs: HUBSPOT_LOOKBACK_MS, sweepEveryMs: HUBSPOT_SWEEP_EVERY_MS }): StreamFreshness | undefined {
  const d = decodeCursor(cursor);
  if (!d.ok) return undefined;
  const s = d.state;
  const lookback = `${Math.round(opts.lookbackMs / 1000)} s`;
  if (s.phase === 'list') {
    return {
      maxBehindMs: null,
      lastFullReadAt: s.startedAt,
      nextFullReadAt: null,
      note: `full re-list in progress (since ${new Date(s.startedAt).toISOString()})`,
    };
  }
  const sweptAt = s.phase === 'search' ? s.sweptAt : s.then.sweptAt;
  const next = sweptAt + opts.sweepEveryMs;
  const ago = duration(now - sweptAt);
  const due = next <= now ? 'due with the next pass' : `due in ${duration(next - now)}`;
  return {
    maxBehindMs: Math.max(0, now - sweptAt),
    lastFullReadAt: sweptAt,
    nextFullReadAt: next,
    note: `a change HubSpot's search shows within ${lookback} is read by the next pass; one its index shows later waits for the next full re-list, ${due} (the last began ${ago} ago)`,
  };
}

/** 45 s, 12 min, 3 h 5 min */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}
