import { asScoreField, SCORE_FIELDS, type ScoreValues } from '../scores.ts';
import type { Db } from './db.ts';
import type { OutboxItem, ParkedItem } from './port.ts';

export type { OutboxItem, ParkedItem };

/**
 * Values waiting to be written to the CRM. Only properties whose value differs from what was
 * last written are enqueued; a later enqueue for the same contact merges into the pending row.
 */
export function createOutboxRepo(db: Db, now: () => number) {
  const lastWritten = db.prepare<[string, string], { properties: string }>(
    'SELECT properties FROM written WHERE portal = ? AND contact_id = ?',
  );
  const pending = db.prepare<[string, string], { properties: string }>(
    'SELECT properties FROM outbox WHERE portal = ? AND contact_id = ?',
  );
  const put = db.prepare<[string, string, string, number, number]>(`
    INSERT INTO outbox (portal, contact_id, properties, enqueued_at, attempts, next_attempt_at, status, last_error)
    VALUES (?, ?, ?, ?, 0, ?, 'pending', NULL)
    ON CONFLICT (portal, contact_id) DO UPDATE SET properties = excluded.properties, enqueued_at = excluded.enqueued_at,
      attempts = 0, next_attempt_at = excluded.next_attempt_at, status = 'pending', last_error = NULL`);
  const drop = db.prepare<[string, string]>('DELETE FROM outbox WHERE portal = ? AND contact_id = ?');
  const due = db.prepare<[string, number, number], { contact_id: string; properties: string; attempts: number }>(`
    SELECT contact_id, properties, attempts FROM outbox
    WHERE portal = ? AND status = 'pending' AND next_attempt_at <= ? ORDER BY enqueued_at, contact_id LIMIT ?`);
  const saveWritten = db.prepare<[string, string, string, number]>(`
    INSERT INTO written (portal, contact_id, properties, written_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (portal, contact_id) DO UPDATE SET properties = excluded.properties, written_at = excluded.written_at`);
  const retry = db.prepare<[number, string, string, string, string]>(
    'UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, status = ?, last_error = ? WHERE portal = ? AND contact_id = ?',
  );
  const stats = db.prepare<[string], { status: string; n: number }>(
    'SELECT status, COUNT(*) AS n FROM outbox WHERE portal = ? GROUP BY status',
  );
  const parked = db.prepare<[string, number], { contact_id: string; properties: string; attempts: number; last_error: string | null }>(
    "SELECT contact_id, properties, attempts, last_error FROM outbox WHERE portal = ? AND status = 'parked' ORDER BY contact_id LIMIT ?",
  );

  const requeue = db.prepare<[number, string]>(
    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL WHERE portal = ? AND status = 'parked'",
  );
  // The reason is what precedes ": " in last_error (kind and CRM code, see sync/write-back.ts).
  const reasons = db.prepare<[string], { reason: string; n: number }>(`
    SELECT CASE WHEN instr(COALESCE(last_error, ''), ': ') > 0 THEN substr(last_error, 1, instr(last_error, ': ') - 1)
                ELSE COALESCE(last_error, 'unknown') END AS reason, COUNT(*) AS n
    FROM outbox WHERE portal = ? AND status = 'parked' GROUP BY reason ORDER BY n DESC, reason`);

  const writtenCount = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM written WHERE portal = ?');

  // Our own column, written only by `enqueue`/`markWritten` with score fields (migration 7 renamed
  // the old spellings); a key that is not a score field is dropped rather than sent to a CRM.
  const parse = (s: string | undefined): ScoreValues => {
    const out: ScoreValues = {};
    if (s === undefined) return out;
    for (const [k, v] of Object.entries(JSON.parse(s) as Record<string, string>)) {
      const field = asScoreField(k);
      if (field !== undefined) out[field] = v;
    }
    return out;
  };

  return {
    /**
     * Enqueues the properties (or what the function makes of the last written values: one read
     * of them, not two) that differ from the last written values; returns how many did.
     */
    enqueue(portal: string, contactId: string, values: ScoreValues | ((written: ScoreValues) => ScoreValues)): number {
      const written = parse(lastWritten.get(portal, contactId)?.properties);
      const properties = typeof values === 'function' ? values(written) : values;
      const merged = parse(pending.get(portal, contactId)?.properties);
      for (const k of SCORE_FIELDS) {
        const v = properties[k];
        if (v === undefined) continue;
        if (written[k] === v) delete merged[k];
        else merged[k] = v;
      }
      const n = Object.keys(merged).length;
      if (n === 0) drop.run(portal, contactId);
      else put.run(portal, contactId, JSON.stringify(merged), now(), now());
      return n;
    },
    due(portal: string, limit: number): OutboxItem[] {
      return due.all(portal, now(), limit).map((r) => ({
        contactId: r.contact_id,
        properties: parse(r.properties),
        attempts: r.attempts,
      }));
    },
    /** Records a successful write of exactly these values (only if the row was not re-enqueued meanwhile). */
    markWritten(portal: string, item: OutboxItem): void {
      const written = { ...parse(lastWritten.get(portal, item.contactId)?.properties), ...item.properties };
      saveWritten.run(portal, item.contactId, JSON.stringify(written), now());
      const still = parse(pending.get(portal, item.contactId)?.properties);
      for (const k of SCORE_FIELDS) if (item.properties[k] !== undefined && still[k] === item.properties[k]) delete still[k];
      if (Object.keys(still).length === 0) drop.run(portal, item.contactId);
      else put.run(portal, item.contactId, JSON.stringify(still), now(), now());
    },
    /** Schedules a retry with exponential backoff, or parks the item after `maxAttempts`. */
    markFailed(portal: string, item: OutboxItem, error: string, opts: { retryable: boolean; maxAttempts: number }): void {
      const attempts = item.attempts + 1;
      const park = !opts.retryable || attempts >= opts.maxAttempts;
      const delay = Math.min(60 * 60_000, 1000 * 2 ** attempts);
      retry.run(now() + delay, park ? 'parked' : 'pending', error, portal, item.contactId);
    },
    stats(portal: string): { pending: number; parked: number } {
      const out = { pending: 0, parked: 0 };
      for (const r of stats.all(portal)) out[r.status as 'pending' | 'parked'] = r.n;
      return out;
    },
    parked(portal: string, limit = 20): ParkedItem[] {
      return parked.all(portal, limit).map((r) => ({
        contactId: r.contact_id,
        properties: parse(r.properties),
        attempts: r.attempts,
        lastError: r.last_error,
      }));
    },
    /** Puts every parked item back in the queue, due now with a fresh attempt count; returns how many. */
    requeueParked(portal: string): number {
      return requeue.run(now(), portal).changes;
    },
    /** Parked items grouped by reason (e.g. "invalid_request PROPERTY_DOESNT_EXIST"), most frequent first. */
    parkedReasons(portal: string): { reason: string; count: number }[] {
      return reasons.all(portal).map((r) => ({ reason: r.reason, count: r.n }));
    },
    /** Contacts that have had at least one value written. */
    writtenCount(portal: string): number {
      return writtenCount.get(portal)?.n ?? 0;
    },
    lastWritten(portal: string, contactId: string): ScoreValues {
      return parse(lastWritten.get(portal, contactId)?.properties);
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
