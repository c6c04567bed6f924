import type { StreamFreshness } from '../provider.ts';
import type { Cursor } from '../types.ts';
import { decodeCursor } from './cursor.ts';

/** Every incremental pass re-reads this much before its bookmark: HubSpot's search index trails writes (reportedly up to ~30 s, https://developers.hubspot.com/docs/api/crm/search). */
export const HUBSPOT_LOOKBACK_MS = 30_000;
/** How often a stream re-lists everything: the only read that sees association changes without webhooks, and any change the index showed very late. */
export const HUBSPOT_SWEEP_EVERY_MS = 6 * 3_600_000;
/** How often a pass re-searches a longer window (changes.ts), and how far back: changes indexed up to 10 min late are read within 20 min. */
export const HUBSPOT_DEEP_EVERY_MS = 10 * 60_000;
export const HUBSPOT_DEEP_LOOKBACK_MS = 20 * 60_000;

export type FreshnessOptions = { lookbackMs: number; sweepEveryMs: number; deepEveryMs: number; deepLookbackMs: number };
const DEFAULTS: FreshnessOptions = { lookbackMs: HUBSPOT_LOOKBACK_MS, sweepEveryMs: HUBSPOT_SWEEP_EVERY_MS, deepEveryMs: HUBSPOT_DEEP_EVERY_MS, deepLookbackMs: HUBSPOT_DEEP_LOOKBACK_MS };

/**
 * What a HubSpot stream cursor says about changes the stream may not have seen (`rapport status`).
 * A change HubSpot's search index shows within the lookback is read by the next pass; one it
 * shows later is missed by that search (its bookmark has moved past it) and read by the next
 * re-search of a longer window (every 10 min, the last 20 min) if the index showed it within
 * 10 min, else by the next full re-list. So the stream may be missing changes made since its last
 * re-list began (for indexing that slow), and at most the longer window's interval behind otherwise.
 */
export function hubspotFreshness(cursor: Cursor, now: number, opts: FreshnessOptions = DEFAULTS): StreamFreshness | undefined {
  const d = decodeCursor(cursor);
  if (!d.ok) return undefined;
  const s = d.state;
  if (s.phase === 'list') {
    return {
      maxBehindMs: null,
      lastFullReadAt: s.startedAt,
      nextFullReadAt: null,
      note: `full re-list in progress (since ${new Date(s.startedAt).toISOString()})`,
    };
  }
  const sweptAt = s.phase === 'search' ? s.sweptAt : s.then.sweptAt;
  const deepAt = (s.phase === 'search' ? s.deepAt : s.then.deepAt) ?? sweptAt;
  const next = sweptAt + opts.sweepEveryMs;
  const due = (at: number) => (at <= now ? 'due with the next pass' : `due in ${duration(at - now)}`);
  const deep =
    opts.deepEveryMs > 0
      ? `, within ${duration(opts.deepLookbackMs - opts.deepEveryMs)} by the next re-search of the last ${duration(opts.deepLookbackMs)}, ${due(deepAt + opts.deepEveryMs)}`
      : '';
  return {
    maxBehindMs: Math.max(0, now - sweptAt),
    lastFullReadAt: sweptAt,
    nextFullReadAt: next,
    note: `a change HubSpot's search shows within ${duration(opts.lookbackMs)} is read by the next pass${deep}; one its index shows later waits for the next full re-list, ${due(next)} (the last began ${duration(now - sweptAt)} ago)`,
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
