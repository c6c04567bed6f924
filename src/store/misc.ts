import type { Db } from './db.ts';
import type { StoredModel } from './port.ts';

/** Dirty contacts: inputs changed since they were last scored. */
export function createDirtyRepo(db: Db, now: () => number) {
  const take = db.prepare<[string, number], { contact_id: string }>(
    'SELECT contact_id FROM dirty_contacts WHERE portal = ? ORDER BY marked_at, contact_id LIMIT ?',
  );
  const clear = db.prepare<[string, string, number]>(
    'DELETE FROM dirty_contacts WHERE portal = ? AND contact_id = ? AND marked_at <= ?',
  );
  // one statement for a whole batch of ids (a JSON array): a batch of 2,000 is one call, not 2,000
  const clearAll = db.prepare<[string, number, string]>(
    'DELETE FROM dirty_contacts WHERE portal = ? AND marked_at <= ? AND contact_id IN (SELECT value FROM json_each(?))',
  );
  const mark = db.prepare<[string, string, number]>(
    'INSERT INTO dirty_contacts (portal, contact_id, marked_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET marked_at = excluded.marked_at WHERE excluded.marked_at > dirty_contacts.marked_at',
  );
  // while a first pass is due (migration 9), every live contact waits to be scored
  const count = db.prepare<{ portal: string }, { n: number }>(
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM unscored_portals WHERE portal = :portal)
       THEN (SELECT COUNT(*) FROM records WHERE portal = :portal AND type = 'contacts' AND deleted = 0)
       ELSE (SELECT COUNT(*) FROM dirty_contacts WHERE portal = :portal) END AS n`,
  );
  // a write: it waits for a page's transaction in progress (SQLite has one writer at a time)
  const startFirst = db.prepare<[number, string], { t: number }>('UPDATE unscored_portals SET pass_started_at = ? WHERE portal = ? RETURNING pass_started_at AS t');
  const endFirst = db.prepare<[string, number]>('DELETE FROM unscored_portals WHERE portal = ? AND pass_started_at = ?');
  return {
    peek(portal: string, limit: number): string[] {
      return take.all(portal, limit).map((r) => r.contact_id);
    },
    /** Clears a mark unless it was set again after `scoredAsOf` (then the contact stays dirty). */
    clear(portal: string, contactId: string, scoredAsOf: number): void {
      clear.run(portal, contactId, scoredAsOf);
    },
    /** `clear` for each of `contactIds`. */
    clearAll(portal: string, contactIds: readonly string[], scoredAsOf: number): void {
      if (contactIds.length > 0) clearAll.run(portal, scoredAsOf, JSON.stringify(contactIds));
    },
    mark(portal: string, contactId: string, at: number): void {
      mark.run(portal, contactId, at);
    },
    count(portal: string): number {
      return count.get({ portal })?.n ?? 0;
    },
    startFirstPass(portal: string): number | undefined {
      return startFirst.get(now(), portal)?.t;
    },
    endFirstPass(portal: string, startedAt: number): void {
      endFirst.run(portal, startedAt);
    },
  };
}

/** Webhook event ids already handled, so a replayed delivery does nothing twice. */
export function createWebhookEventsRepo(db: Db, now: () => number) {
  const insert = db.prepare<[string, string, number]>(
    'INSERT OR IGNORE INTO webhook_events (portal, event_id, received_at) VALUES (?, ?, ?)',
  );
  const prune = db.prepare<[number]>('DELETE FROM webhook_events WHERE received_at < ?');
  return {
    /** Returns true when the event is new (and records it). */
    remember(portal: string, eventId: string): boolean {
      return insert.run(portal, eventId, now()).changes > 0;
    },
    /** HubSpot retries for up to 24 h; keep ids a little longer than that. */
    prune(olderThanMs = 3 * 24 * 3600_000): number {
      return prune.run(now() - olderThanMs).changes;
    },
  };
}

export type { StoredModel };

export function createModelsRepo(db: Db) {
  // Insert, never replace: a retrain is a new version, and the old ones stay with their metrics.
  const save = db.prepare<[string, string, string, number, string, string]>(
    'INSERT INTO models (portal, kind, version, trained_at, params, metrics) VALUES (?, ?, ?, ?, ?, ?)',
  );
  type Row = { kind: string; version: string; trained_at: number; params: string; metrics: string };
  // rowid breaks ties between versions trained in the same millisecond: the later insert wins
  const latest = db.prepare<[string, string], Row>(
    'SELECT * FROM models WHERE portal = ? AND kind = ? ORDER BY trained_at DESC, rowid DESC LIMIT 1',
  );
  const one = db.prepare<[string, string, string], Row>('SELECT * FROM models WHERE portal = ? AND kind = ? AND version = ?');
  const history = db.prepare<[string, string], Row>('SELECT * FROM models WHERE portal = ? AND kind = ? ORDER BY trained_at DESC, rowid DESC');
  const taken = db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM models WHERE portal = ? AND version = ?');
  const parse = (r: Row): StoredModel => ({ kind: r.kind, version: r.version, trainedAt: r.trained_at, params: JSON.parse(r.params), metrics: JSON.parse(r.metrics) });
  return {
    save(portal: string, m: StoredModel): void {
      save.run(portal, m.kind, m.version, m.trainedAt, JSON.stringify(m.params), JSON.stringify(m.metrics));
    },
    latest(portal: string, kind: string): StoredModel | undefined {
      const r = latest.get(portal, kind);
      return r === undefined ? undefined : parse(r);
    },
    /** One version of a model (the one a score names in its model version), or undefined. */
    get(portal: string, kind: string, version: string): StoredModel | undefined {
      const r = one.get(portal, kind, version);
      return r === undefined ? undefined : parse(r);
    },
    /** Every version of a model kind, newest first. */
    versions(portal: string, kind: string): StoredModel[] {
      return history.all(portal, kind).map(parse);
    },
    /** `base`, or `base-2`, `base-3`, … : the first id no model of the portal has yet. */
    unusedVersion(portal: string, base: string): string {
      for (let i = 1; ; i++) {
        const v = i === 1 ? base : `${base}-${i}`;
        if ((taken.get(portal, v)?.n ?? 0) === 0) return v;
      }
    },
  };
}
