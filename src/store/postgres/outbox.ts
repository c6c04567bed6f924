import { asScoreField, SCORE_FIELDS, type ScoreValues } from '../../scores.ts';
import type { OutboxItem, ParkedItem } from '../port.ts';
import { lines, rounds, statement, type Queryable } from './sql.ts';

/**
 * The write-back outbox on Postgres: src/store/outbox.ts's rules (only values that differ from
 * the last written ones are pending; a later enqueue merges into the pending row), computed in
 * TypeScript over the rows of a whole batch read in one statement and written back in two.
 * Values go as JSON texts one per line (`lines` in sql.ts: JSON.stringify leaves no raw newline),
 * each parsed once, as the JSONB column's input.
 */

/** Our own JSONB column: a key that is not a score field is dropped rather than sent to a CRM. */
function values(raw: unknown): ScoreValues {
  const out: ScoreValues = {};
  if (raw === null || typeof raw !== 'object') return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const field = asScoreField(k);
    if (field !== undefined && typeof v === 'string') out[field] = v;
  }
  return out;
}

type State = { written: ScoreValues; pending: ScoreValues };

/**
 * One primary-key lookup per id in each table, as subqueries. As joins, the plan made while the
 * tables were empty (a first pass fills the outbox from nothing), which the connection then keeps
 * as its generic plan until an ANALYZE, hashed every outbox row of the portal for each batch:
 * 36–65 ms a batch of 2,000 at 40,000 rows, growing with the pass, against 3.5–10 ms for the
 * lookups (EXPLAIN ANALYZE; https://www.postgresql.org/docs/current/sql-prepare.html, "Notes").
 */
const stateOf = statement<{ id: string; written: unknown; pending: unknown }>(
  'outbox_state',
  `SELECT k.id,
     (SELECT w.properties FROM written w WHERE w.portal = $1 AND w.contact_id = k.id) AS written,
     (SELECT o.properties FROM outbox o WHERE o.portal = $1 AND o.contact_id = k.id) AS pending
   FROM unnest($2::text[]) AS k(id)`,
);
const put = statement(
  'outbox_put',
  `INSERT INTO outbox (portal, contact_id, properties, enqueued_at, attempts, next_attempt_at, status, last_error)
   SELECT $1, id, properties::jsonb, $4, 0, $4, 'pending', NULL FROM ROWS FROM (unnest($2::text[]), string_to_table($3::text, E'\n')) AS k(id, properties)
   ON CONFLICT (portal, contact_id) DO UPDATE SET properties = excluded.properties, enqueued_at = excluded.enqueued_at,
     attempts = 0, next_attempt_at = excluded.next_attempt_at, status = 'pending', last_error = NULL`,
);
const drop = statement('outbox_drop', 'DELETE FROM outbox WHERE portal = $1 AND contact_id = ANY($2::text[])');
const saveWritten = statement(
  'outbox_save_written',
  `INSERT INTO written (portal, contact_id, properties, written_at)
   SELECT $1, id, properties::jsonb, $4 FROM ROWS FROM (unnest($2::text[]), string_to_table($3::text, E'\n')) AS k(id, properties)
   ON CONFLICT (portal, contact_id) DO UPDATE SET properties = excluded.properties, written_at = excluded.written_at`,
);
const retry = statement(
  'outbox_retry',
  `UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = k.next_at, status = k.status, last_error = k.error
   FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS k(id, next_at, status, error)
   WHERE o.portal = $1 AND o.contact_id = k.id`,
);
const due = statement<{ contact_id: string; properties: unknown; attempts: number }>(
  'outbox_due',
  `SELECT contact_id, properties, attempts FROM outbox
   WHERE portal = $1 AND status = 'pending' AND next_attempt_at <= $2 ORDER BY enqueued_at, contact_id LIMIT $3`,
);
const stats = statement<{ status: string; n: number }>('outbox_stats', 'SELECT status, count(*) AS n FROM outbox WHERE portal = $1 GROUP BY status');
const parked = statement<{ contact_id: string; properties: unknown; attempts: number; last_error: string | null }>(
  'outbox_parked',
  "SELECT contact_id, properties, attempts, last_error FROM outbox WHERE portal = $1 AND status = 'parked' ORDER BY contact_id LIMIT $2",
);
const requeue = statement(
  'outbox_requeue',
  "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, last_error = NULL WHERE portal = $2 AND status = 'parked'",
);
// the reason is what precedes ": " in last_error (see parkedReasons in src/store/outbox.ts)
const reasons = statement<{ reason: string; n: number }>(
  'outbox_reasons',
  `SELECT reason, count(*) AS n FROM (
     SELECT CASE WHEN strpos(COALESCE(last_error, ''), ': ') > 0 THEN substr(last_error, 1, strpos(last_error, ': ') - 1)
                 ELSE COALESCE(last_error, 'unknown') END COLLATE "C" AS reason
     FROM outbox WHERE portal = $1 AND status = 'parked') p
   GROUP BY reason ORDER BY n DESC, reason`,
);
const writtenCount = statement<{ n: number }>('outbox_written_count', 'SELECT count(*) AS n FROM written WHERE portal = $1');
const lastWritten = statement<{ properties: unknown }>('outbox_last_written', 'SELECT properties FROM written WHERE portal = $1 AND contact_id = $2');

async function readState(q: Queryable, portal: string, ids: readonly string[]): Promise<Map<string, State>> {
  const out = new Map<string, State>();
  for (const r of (await stateOf(q, [portal, ids])).rows) out.set(r.id, { written: values(r.written), pending: values(r.pending) });
  return out;
}

/** `pending` after an enqueue of `properties`: values equal to the written ones cancel. */
function merge(state: State, properties: ScoreValues): ScoreValues {
  const merged = { ...state.pending };
  for (const k of SCORE_FIELDS) {
    const v = properties[k];
    if (v === undefined) continue;
    if (state.written[k] === v) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

/** Writes the new pending values of a round (empty = no row). */
async function store(q: Queryable, portal: string, next: ReadonlyMap<string, ScoreValues>, t: number): Promise<void> {
  const puts = [...next].filter(([, v]) => Object.keys(v).length > 0);
  const drops = [...next].filter(([, v]) => Object.keys(v).length === 0).map(([id]) => id);
  if (puts.length > 0) await put(q, [portal, puts.map(([id]) => id), lines(puts.map(([, v]) => JSON.stringify(v))), t]);
  if (drops.length > 0) await drop(q, [portal, drops]);
}

export type Enqueue = { contactId: string; properties: ScoreValues | ((written: ScoreValues) => ScoreValues) };

/**
 * Enqueues each item's values (or what its function makes of the last written ones): the caller
 * holds the transaction. Returns how many values each item left pending.
 */
export async function enqueueAll(q: Queryable, portal: string, items: readonly Enqueue[], t: number): Promise<number[]> {
  const counts = new Map<Enqueue, number>();
  for (const round of rounds(items, (i) => i.contactId)) {
    const state = await readState(q, portal, round.map((i) => i.contactId));
    const next = new Map<string, ScoreValues>();
    for (const item of round) {
      const s = state.get(item.contactId) ?? { written: {}, pending: {} };
      const props = typeof item.properties === 'function' ? item.properties(s.written) : item.properties;
      const merged = merge(s, props);
      next.set(item.contactId, merged);
      counts.set(item, Object.keys(merged).length);
    }
    await store(q, portal, next, t);
  }
  return items.map((i) => counts.get(i) ?? 0);
}

/** One write-back batch's outcome (the caller holds the transaction): see settle in src/store/sqlite.ts. */
export async function settleOutbox(
  q: Queryable,
  portal: string,
  outcome: { written: readonly OutboxItem[]; failed: readonly { item: OutboxItem; error: string; retryable: boolean }[] },
  opts: { maxAttempts: number },
  t: number,
): Promise<void> {
  for (const round of rounds(outcome.written, (i) => i.contactId)) {
    const state = await readState(q, portal, round.map((i) => i.contactId));
    const written: [string, string][] = [];
    const next = new Map<string, ScoreValues>();
    for (const item of round) {
      const s = state.get(item.contactId) ?? { written: {}, pending: {} };
      written.push([item.contactId, JSON.stringify({ ...s.written, ...item.properties })]);
      // values re-enqueued meanwhile stay pending
      const still = { ...s.pending };
      for (const k of SCORE_FIELDS) if (item.properties[k] !== undefined && still[k] === item.properties[k]) delete still[k];
      next.set(item.contactId, still);
    }
    await saveWritten(q, [portal, written.map(([id]) => id), lines(written.map(([, p]) => p)), t]);
    await store(q, portal, next, t);
  }
  for (const round of rounds(outcome.failed, (f) => f.item.contactId)) {
    const rows = round.map((f) => {
      const attempts = f.item.attempts + 1;
      const park = !f.retryable || attempts >= opts.maxAttempts;
      return { id: f.item.contactId, next: t + Math.min(60 * 60_000, 1000 * 2 ** attempts), status: park ? 'parked' : 'pending', error: f.error };
    });
    await retry(q, [portal, rows.map((r) => r.id), rows.map((r) => r.next), rows.map((r) => r.status), rows.map((r) => r.error)]);
  }
}

export const outboxReads = {
  async due(q: Queryable, portal: string, t: number, limit: number): Promise<OutboxItem[]> {
    return (await due(q, [portal, t, limit])).rows.map((r) => ({ contactId: r.contact_id, properties: values(r.properties), attempts: r.attempts }));
  },
  async stats(q: Queryable, portal: string): Promise<{ pending: number; parked: number }> {
    const out = { pending: 0, parked: 0 };
    for (const r of (await stats(q, [portal])).rows) out[r.status as 'pending' | 'parked'] = r.n;
    return out;
  },
  async parked(q: Queryable, portal: string, limit: number): Promise<ParkedItem[]> {
    return (await parked(q, [portal, limit])).rows.map((r) => ({
      contactId: r.contact_id,
      properties: values(r.properties),
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  },
  async requeueParked(q: Queryable, portal: string, t: number): Promise<number> {
    return (await requeue(q, [t, portal])).rowCount ?? 0;
  },
  async parkedReasons(q: Queryable, portal: string): Promise<{ reason: string; count: number }[]> {
    return (await reasons(q, [portal])).rows.map((r) => ({ reason: r.reason, count: r.n }));
  },
  async writtenCount(q: Queryable, portal: string): Promise<number> {
    return (await writtenCount(q, [portal])).rows[0]?.n ?? 0;
  },
  async lastWritten(q: Queryable, portal: string, contactId: string): Promise<ScoreValues> {
    return values((await lastWritten(q, [portal, contactId])).rows[0]?.properties);
  },
};
