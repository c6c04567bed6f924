import type { CrmRecord, ObjectType, RecordData } from '../connectors/types.ts';
import type { Db } from './db.ts';
import type { RecordCounts, StoredRecord } from './port.ts';
import { readIssues } from './issues.ts';

export type { StoredRecord };

type Row = {
  type: string;
  id: string;
  company_id: string | null;
  updated_at: number;
  deleted: number;
  data: string;
};

function toStored(row: Row): StoredRecord {
  const parsed = JSON.parse(row.data) as { d: RecordData; i?: unknown; m?: string };
  return {
    type: row.type as ObjectType,
    id: row.id,
    companyId: row.company_id,
    updatedAt: row.updated_at,
    deleted: row.deleted === 1,
    data: parsed.d,
    issues: readIssues(parsed.i, row.type),
    mergedInto: parsed.m ?? null,
  };
}

/**
 * Records and their contact links. Upserts are idempotent: a record older than the cached one,
 * or as old with the same content, is ignored. "Content" includes the primary company: HubSpot
 * does not bump hs_lastmodifieddate when only an association changes
 * (https://developers.hubspot.com/docs/api/crm/associations), so a re-listed record with the
 * same updatedAt and a new company must still land.
 */
export function createRecordsRepo(db: Db, now: () => number) {
  const upsert = db.prepare<[string, string, string, string | null, number, number, string, number]>(`
    INSERT INTO records (portal, type, id, company_id, updated_at, deleted, data, synced_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (portal, type, id) DO UPDATE SET
      company_id = excluded.company_id, updated_at = excluded.updated_at, deleted = excluded.deleted,
      data = excluded.data, synced_at = excluded.synced_at
    WHERE excluded.updated_at > records.updated_at
       OR (excluded.updated_at = records.updated_at AND (excluded.deleted != records.deleted OR excluded.data != records.data
           OR excluded.company_id IS NOT records.company_id))`);
  const linkedContacts = db.prepare<[string, string, string], { to_id: string }>(
    `SELECT to_id FROM associations WHERE portal = ? AND from_type = ? AND from_id = ? AND to_type = 'contacts'`,
  );
  const unlink = db.prepare<[string, string, string]>(
    `DELETE FROM associations WHERE portal = ? AND from_type = ? AND from_id = ? AND to_type = 'contacts'`,
  );
  const link = db.prepare<[string, string, string, string, string]>(
    `INSERT OR IGNORE INTO associations (portal, from_type, from_id, to_type, to_id) VALUES (?, ?, ?, ?, ?)`,
  );
  // A mark already there moves to the new time: a scorer that read the contact before this page
  // clears only marks set up to its read (saveScores' readAt), so a mark kept at its old time
  // would be cleared with the change it stands for unscored.
  // A contact marked through a link is marked only when cached: scoring has nothing to read for
  // one that is not (it clears such marks), and its first version marks it when it comes, after
  // the links this page writes (writes are serialized, so no page can cache it in between).
  // A backfill's pages (companies before contacts: src/sync/daemon.ts) skip a mark per link.
  // A portal waiting for its first full scoring pass, not started yet, writes no marks (migration 9).
  const firstPassDue = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM unscored_portals WHERE portal = ? AND pass_started_at IS NULL');
  const DIRTY_CONFLICT = 'ON CONFLICT (portal, contact_id) DO UPDATE SET marked_at = excluded.marked_at WHERE excluded.marked_at > dirty_contacts.marked_at';
  const markDirty = db.prepare<[string, string, number]>(`INSERT INTO dirty_contacts (portal, contact_id, marked_at) VALUES (?, ?, ?) ${DIRTY_CONFLICT}`);
  const markLinked = db.prepare<{ portal: string; id: string; t: number }>(
    `INSERT INTO dirty_contacts (portal, contact_id, marked_at)
     SELECT :portal, :id, :t WHERE EXISTS (SELECT 1 FROM records WHERE portal = :portal AND type = 'contacts' AND id = :id)
     ${DIRTY_CONFLICT}`,
  );
  const content = db.prepare<[string, string, string], { data: string; deleted: number; company_id: string | null }>(
    'SELECT data, deleted, company_id FROM records WHERE portal = ? AND type = ? AND id = ?',
  );
  const getOne = db.prepare<[string, string, string], Row>(
    `SELECT type, id, company_id, updated_at, deleted, data FROM records WHERE portal = ? AND type = ? AND id = ?`,
  );
  const idsOf = db.prepare<[string, string], { id: string }>(
    'SELECT id FROM records WHERE portal = ? AND type = ? AND deleted = 0 ORDER BY id',
  );
  const pageOf = (includeDeleted: boolean) =>
    db.prepare<[string, string, string, number], Row>(
      `SELECT type, id, company_id, updated_at, deleted, data FROM records WHERE portal = ? AND type = ? AND id > ?${
        includeDeleted ? '' : ' AND deleted = 0'
      } ORDER BY id LIMIT ?`,
    );
  const pages = { live: pageOf(false), all: pageOf(true) };
  const anyOf = db.prepare<[string], { x: number }>('SELECT 1 AS x FROM records WHERE portal = ? LIMIT 1');
  const countByType = db.prepare<[string], { type: string; live: number; deleted: number }>(
    `SELECT type, SUM(deleted = 0) AS live, SUM(deleted = 1) AS deleted FROM records WHERE portal = ? GROUP BY type ORDER BY type`,
  );
  // CROSS JOIN pins the join order (associations_to index first, then records by key): left to
  // itself SQLite may scan every record of the portal for one contact.
  const contactHistory = db.prepare<[string, string], Row>(`
    SELECT r.type, r.id, r.company_id, r.updated_at, r.deleted, r.data
    FROM associations a CROSS JOIN records r ON r.portal = a.portal AND r.type = a.from_type AND r.id = a.from_id
    WHERE a.portal = ? AND a.to_type = 'contacts' AND a.to_id = ? AND r.deleted = 0`);

  // Merges (HubSpot hs_merged_object_ids): the loser's row becomes a tombstone whose JSON names
  // the survivor (no schema change), and everything that pointed at the loser moves over.
  const tombstone = db.prepare<[string, number, number, string, string, string]>(
    'UPDATE records SET deleted = 1, data = ?, updated_at = MAX(updated_at, ?), synced_at = ? WHERE portal = ? AND type = ? AND id = ?',
  );
  const moveLinksTo = db.prepare<[string, string, string, string]>(
    'UPDATE OR IGNORE associations SET to_id = ? WHERE portal = ? AND to_type = ? AND to_id = ?',
  );
  const dropLinksTo = db.prepare<[string, string, string]>('DELETE FROM associations WHERE portal = ? AND to_type = ? AND to_id = ?');
  const dropLinksFrom = db.prepare<[string, string, string]>('DELETE FROM associations WHERE portal = ? AND from_type = ? AND from_id = ?');
  const moveCompany = db.prepare<[string, string, string]>('UPDATE records SET company_id = ? WHERE portal = ? AND company_id = ?');
  const moveHistory = db.prepare<[string, string, string]>(
    `INSERT OR IGNORE INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health)
     SELECT portal, ?, scored_at, satisfaction, loyalty, churn_risk, service_need, health FROM score_history WHERE portal = ? AND contact_id = ?`,
  );
  const forgetContact = [
    'DELETE FROM score_history WHERE portal = ? AND contact_id = ?',
    'DELETE FROM scores WHERE portal = ? AND contact_id = ?',
    // never write back to a merged id: HubSpot would apply it to the survivor (issue 13)
    'DELETE FROM outbox WHERE portal = ? AND contact_id = ?',
    'DELETE FROM written WHERE portal = ? AND contact_id = ?',
    'DELETE FROM dirty_contacts WHERE portal = ? AND contact_id = ?',
  ].map((sql) => db.prepare<[string, string]>(sql));

  /** `loser` was merged into `survivor`; returns whether anything changed. */
  function mergeInto(portal: string, type: ObjectType, loser: string, survivor: string, updatedAt: number, t: number): boolean {
    const prior = getOne.get(portal, type, loser);
    if (prior === undefined) return false; // never cached: nothing points at it
    const parsed = JSON.parse(prior.data) as { d: RecordData; i?: string[]; m?: string };
    if (prior.deleted === 1 && parsed.m === survivor) return false;
    tombstone.run(JSON.stringify({ ...parsed, m: survivor }), updatedAt, t, portal, type, loser);
    moveLinksTo.run(survivor, portal, type, loser);
    dropLinksTo.run(portal, type, loser);
    dropLinksFrom.run(portal, type, loser);
    if (type === 'companies') moveCompany.run(survivor, portal, loser);
    if (type === 'contacts') {
      moveHistory.run(survivor, portal, loser);
      for (const stmt of forgetContact) stmt.run(portal, loser);
    }
    return true;
  }

  const repo = {
    /**
     * Upserts one page of records (the caller holds the transaction). Marks every affected
     * contact dirty: the contact itself, and the contacts a record is or was linked to.
     * Returns how many rows actually changed.
     */
    upsertPage(records: readonly CrmRecord[]): number {
      let changed = 0;
      const t = now();
      const quiet = new Map<string, boolean>();
      const marking = (portal: string) => {
        let q = quiet.get(portal);
        if (q === undefined) quiet.set(portal, (q = firstPassDue.get(portal) !== undefined));
        return !q;
      };
      for (const r of records) {
        const payload = JSON.stringify(r.issues && r.issues.length > 0 ? { d: r.data, i: r.issues } : { d: r.data });
        const prior = content.get(r.portal, r.type, r.id);
        const res = upsert.run(r.portal, r.type, r.id, r.companyId, r.updatedAt, r.deleted ? 1 : 0, payload, t);
        // Only a change of content makes contacts dirty. A newer updatedAt with the same data is
        // typically our own write-back (it bumps lastmodifieddate): rescoring on it would loop.
        const contentChanged =
          res.changes > 0 &&
          (prior === undefined || prior.data !== payload || prior.deleted !== (r.deleted ? 1 : 0) || prior.company_id !== r.companyId);
        const affected = new Set<string>();
        if (r.type === 'contacts' && contentChanged) affected.add(r.id);
        if (res.changes > 0) changed++;
        if (r.contactIds !== undefined && r.type !== 'contacts') {
          const before = linkedContacts.all(r.portal, r.type, r.id).map((x) => x.to_id);
          const after = r.deleted ? [] : r.contactIds;
          const same = before.length === after.length && before.every((id) => after.includes(id));
          if (!same) {
            unlink.run(r.portal, r.type, r.id);
            for (const c of after) link.run(r.portal, r.type, r.id, 'contacts', c);
            changed += res.changes > 0 ? 0 : 1;
          }
          if (!same || contentChanged) for (const c of [...before, ...after]) affected.add(c);
        } else if (contentChanged && r.type !== 'contacts') {
          for (const x of linkedContacts.all(r.portal, r.type, r.id)) affected.add(x.to_id);
        }
        if (r.type === 'contacts' && r.deleted && res.changes > 0) {
          // HubSpot drops the associations of a deleted record (the sandbox returns none to
          // archived records): records that pointed at this contact no longer do
          dropLinksTo.run(r.portal, 'contacts', r.id);
        }
        for (const loser of r.deleted ? [] : (r.mergedIds ?? [])) {
          if (!mergeInto(r.portal, r.type, loser, r.id, r.updatedAt, t)) continue;
          changed++;
          // the survivor now owns the loser's engagements, tickets and history: rescore it there
          if (r.type === 'contacts') affected.add(r.id);
          else for (const x of linkedContacts.all(r.portal, r.type, r.id)) affected.add(x.to_id);
        }
        // a contact's own set is itself (cached now); any other record's are the contacts it links
        if (affected.size > 0 && !marking(r.portal)) continue;
        for (const c of affected) {
          if (r.type === 'contacts') markDirty.run(r.portal, c, t);
          else markLinked.run({ portal: r.portal, id: c, t });
        }
      }
      return changed;
    },
    get(portal: string, type: ObjectType, id: string): StoredRecord | undefined {
      const row = getOne.get(portal, type, id);
      return row === undefined ? undefined : toStored(row);
    },
    /** Live records linked to a contact (engagements, deals, tickets, feedback). */
    linkedToContact(portal: string, contactId: string): StoredRecord[] {
      return contactHistory.all(portal, contactId).map(toStored);
    },
    counts(portal: string): RecordCounts {
      const out: RecordCounts = {};
      for (const row of countByType.all(portal)) out[row.type] = { live: row.live, deleted: row.deleted };
      return out;
    },
    ids(portal: string, type: ObjectType): string[] {
      return idsOf.all(portal, type).map((r) => r.id);
    },
    /** One keyset page of a type's records, in id order, after `after`. */
    page(portal: string, type: ObjectType, after: string, limit: number, includeDeleted = false): StoredRecord[] {
      return (includeDeleted ? pages.all : pages.live).all(portal, type, after, limit).map(toStored);
    },
    hasAny(portal: string): boolean {
      return anyOf.get(portal) !== undefined;
    },
    /**
     * Marks cached live records the CRM no longer lists as deleted (a connector's sweep,
     * `Page.liveIds`); the caller holds the transaction.
     */
    tombstoneMissing(portal: string, type: ObjectType, liveIds: readonly string[], at: number): number {
      const live = new Set(liveIds);
      const gone = idsOf.all(portal, type).filter((r) => !live.has(r.id));
      const tombstones = gone.flatMap(({ id }) => {
        const row = getOne.get(portal, type, id);
        if (row === undefined) return [];
        const r = toStored(row);
        return [{ portal, type, id, companyId: r.companyId, updatedAt: Math.max(at, r.updatedAt + 1), deleted: true, data: r.data, contactIds: type === 'contacts' ? undefined : [] }];
      });
      return repo.upsertPage(tombstones);
    },
  };
  return repo;
}

export type RecordsRepo = ReturnType<typeof createRecordsRepo>;
