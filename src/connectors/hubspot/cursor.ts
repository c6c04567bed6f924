import { z } from 'zod';
import type { Cursor } from '../types.ts';

/**
 * HubSpot stream cursor (ARCHITECTURE §3). Opaque outside the connector: base64url of JSON,
 * decoded through zod so a cursor from an older/newer build or a corrupted row restarts its phase
 * instead of crashing the sync.
 *
 * Phases:
 * - `list`: paging `GET /crm/v3/objects/{type}` (live records, associations inline). Used for the
 *   backfill and for the periodic association sweep (association changes do not bump
 *   last-modified, https://github.com/airbytehq/airbyte/issues/27199, so a full re-list is the only way to see them without webhooks).
 * - `archived`: paging `?archived=true` (only archived records, https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm) → tombstones.
 *   After a list it emits every archived record; within an incremental pass only those archived
 *   since `deletedSince`.
 * - `search`: incremental, `modified ≥ since` sorted by modified; `afterId` set means "inside a
 *   run of more than one page of records sharing the timestamp `since`: ids > afterId".
 */
const ListState = z.object({
  phase: z.literal('list'),
  after: z.string().nullable(),
  /** when this list started: the search resumes from here (minus the lookback) */
  startedAt: z.number(),
  /** the archived listing that follows emits records archived since then; null = all of them */
  deletedSince: z.number().nullable(),
  /** how many live records the list will page through (for progress bars), counted once */
  total: z.number().optional(),
});
const ArchivedState = z.object({
  phase: z.literal('archived'),
  after: z.string().nullable(),
  /** null = emit every archived record (after a full list) */
  deletedSince: z.number().nullable(),
  /** where the search phase resumes once this listing ends */
  then: z.object({ since: z.number(), sweptAt: z.number(), deletionsAt: z.number(), deepAt: z.number().optional() }),
});
const SearchState = z.object({
  phase: z.literal('search'),
  since: z.number(),
  afterId: z.string().nullable(),
  /** when the last full list (backfill or sweep) started */
  sweptAt: z.number(),
  /** when deletions were last listed */
  deletionsAt: z.number(),
  /** when the last re-search of a longer window began (changes the index showed after the lookback); absent = at the last full list */
  deepAt: z.number().optional(),
});

export const HubspotCursorState = z.discriminatedUnion('phase', [ListState, ArchivedState, SearchState]);
export type HubspotCursorState = z.infer<typeof HubspotCursorState>;

export function encodeCursor(state: HubspotCursorState): Cursor {
  return Buffer.from(JSON.stringify({ v: 1, ...state })).toString('base64url') as Cursor;
}

export type Decoded = { ok: true; state: HubspotCursorState } | { ok: false; phase: string | null; reason: string };

export function decodeCursor(cursor: Cursor): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, phase: null, reason: 'not a HubSpot cursor' };
  }
  const parsed = HubspotCursorState.safeParse(raw);
  if (parsed.success) return { ok: true, state: parsed.data };
  const phase = typeof raw === 'object' && raw !== null && 'phase' in raw && typeof raw.phase === 'string' ? raw.phase : null;
  return { ok: false, phase, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}
