import type { CrmRecord, ObjectType, RecordData } from '../../connectors/types.ts';
import { readIssues } from '../issues.ts';
import type { ContactWithLinks, IdRange, LinkedRecord, RecordCounts, StoredRecord } from '../port.ts';
import { jsonArray, jsonText, rounds, statement, type Queryable } from './sql.ts';

/**
 * Records, their contact links and the contact reads of scoring, on Postgres: the semantics of
 * src/store/records.ts and src/store/contacts.ts (read them for the why of each rule), with every
 * write of a page batched into a few multi-row statements (UNNEST arrays) instead of a few
 * statements per record. `data` is JSON text holding `{ d: RecordData, i?: issues, m?: survivor }`,
 * as SQLite's TEXT column does.
 */

type Payload = { d: RecordData; i?: unknown; m?: string };
type Row = { type: string; id: string; company_id: string | null; updated_at: number; deleted: boolean; data: Payload };
type ContactRow = { id: string; company_id: string | null; data: Payload };
type LinkRow = { cid: string; type: string; id: string; data: Payload };

const toStored = (row: Row): StoredRecord => ({
  type: row.type as ObjectType,
  id: row.id,
  companyId: row.company_id,
  updatedAt: row.updated_at,
  deleted: row.deleted,
  data: row.data.d,
  issues: readIssues(row.data.i, row.type),
  mergedInto: row.data.m ?? null,
});
const toContact = (row: ContactRow): ContactWithLinks => ({
  id: row.id,
  companyId: row.company_id,
  data: row.data.d ?? ({} as RecordData),
  issues: readIssues(row.data.i, 'contacts'),
  linked: [],
});
const toLinked = (row: LinkRow): LinkedRecord => ({ type: row.type as ObjectType, id: row.id, data: row.data.d ?? ({} as RecordData), issues: readIssues(row.data.i, row.type) });

const COLS = 'type, id, company_id, updated_at, deleted, data';

// One page's upsert. RETURNING names the row before (`old`, null for an insert) and after
// (`new`) the statement (PostgreSQL 18: https://www.postgresql.org/docs/18/dml-returning.html), so
// whether its content changed is answered in the same round trip without reading the page's rows
// first (a CTE joining them: 16–22 against 12–17 µs of server CPU a row inserted, both into JSONB,
// in a scratch test of 60,000 rows in pages of 1,000). The WHERE of DO UPDATE is SQLite's: newer
// wins; as new only with new content. `data` is JSON text (migration 7): equal text is equal
// content, and differing text is compared as JSONB, so key order and spacing never count as a
// change.
// The page's data is one JSON array parameter, split by `json_array_elements`, which only checks
// its syntax (https://www.postgresql.org/docs/current/datatype-json.html).
const SAME_DATA = (a: string, b: string) => `(${a}::text = ${b}::text OR ${a}::jsonb = ${b}::jsonb)`;
const upsert = statement<{ type: string; id: string; portal: string; content_changed: boolean; existed: boolean }>(
  'records_upsert',
  `INSERT INTO records AS r (portal, type, id, company_id, updated_at, deleted, data, synced_at)
   SELECT portal, type, id, company_id, updated_at, deleted, data, $8
   FROM ROWS FROM (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]),
     unnest($6::boolean[]), json_array_elements($7::json)) AS t(portal, type, id, company_id, updated_at, deleted, data)
   ON CONFLICT (portal, type, id) DO UPDATE SET
     company_id = excluded.company_id, updated_at = excluded.updated_at, deleted = excluded.deleted,
     data = excluded.data, synced_at = excluded.synced_at
   WHERE excluded.updated_at > r.updated_at
      OR (excluded.updated_at = r.updated_at AND (excluded.deleted <> r.deleted OR NOT ${SAME_DATA('excluded.data', 'r.data')}
          OR excluded.company_id IS DISTINCT FROM r.company_id))
   RETURNING new.portal, new.type, new.id,
     (old.id IS NULL OR NOT ${SAME_DATA('old.data', 'new.data')} OR old.deleted <> new.deleted
      OR old.company_id IS DISTINCT FROM new.company_id) AS content_changed,
     old.id IS NOT NULL AS existed`,
);
// A page of records none of which is stored yet (a stream's first pass over a portal, store.ts
// says when): a plain insert. ON CONFLICT checks the key before inserting and then confirms the
// insertion in the heap, a speculative insertion even when nothing conflicts: 0.69 against 0.52 s
// of server CPU for 60,000 records in pages of 1,000 (RETURNING the same columns, measured side by
// side; ON CONFLICT DO NOTHING cost as much as DO UPDATE, and MERGE 0.94). It returns nothing:
// either every row of the page is new (so its content changed) or the statement fails. A record
// stored meanwhile fails it with a unique violation, and the caller writes the page again with
// the upsert.
const insert = statement(
  'records_insert',
  `INSERT INTO records (portal, type, id, company_id, updated_at, deleted, data, synced_at)
   SELECT portal, type, id, company_id, updated_at, deleted, data, $8
   FROM ROWS FROM (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]),
     unnest($6::boolean[]), json_array_elements($7::json)) AS t(portal, type, id, company_id, updated_at, deleted, data)`,
);
/** SQLSTATE unique_violation (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const isUniqueViolation = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === '23505';
// A page's existing contact links, and their removal, for records of one portal and type (a page
// is one stream's: upsertRound groups by both). `from_id = ANY(…)` names the primary key's
// leading columns; the join with unnest(portal[], type[], id[]) it replaces had its cached generic
// plan hash every contact link of every portal for each page (4 ms a page at 20,000 links).
const linksOf = statement<{ from_id: string; to_id: string }>(
  'records_links_of',
  `SELECT from_id, to_id FROM associations
   WHERE portal = $1 AND from_type = $2 AND from_id = ANY($3::text[]) AND to_type = 'contacts'`,
);
const unlink = statement(
  'records_unlink',
  `DELETE FROM associations WHERE portal = $1 AND from_type = $2 AND from_id = ANY($3::text[]) AND to_type = 'contacts'`,
);
// A page's new links: its records' existing contact links were deleted just before (unlink), and
// a record the page created has none (see upsertRound), so nothing can conflict and the insert
// needs no ON CONFLICT, whose speculative insertion was a third of its server time for a
// backfill's 1,000 links a page. Each record's list is deduplicated first (one contact under two
// association labels).
const link = statement(
  'records_link',
  `INSERT INTO associations (portal, from_type, from_id, to_type, to_id)
   SELECT portal, type, id, 'contacts', to_id FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(portal, type, id, to_id)`,
);
const dropLinksToContacts = statement(
  'records_drop_links_to_contacts',
  `DELETE FROM associations a USING unnest($1::text[], $2::text[]) AS k(portal, id)
   WHERE a.portal = k.portal AND a.to_type = 'contacts' AND a.to_id = k.id`,
);
/**
 * Marks contacts dirty: $1 portals, $2 contact ids, $3 whether each is known to be cached (else it
 * is marked only if it is), $4 the time (alone, or as the first CTE of the page's end). As on
 * SQLite (markDirty and markLinked in src/store/records.ts say why): a mark already there moves
 * to the new time, and a link marks a contact only when it is cached. The page's transaction holds
 * its portal's advisory lock, so no other page can cache the contact in between. A portal whose
 * first scoring pass is due and not started writes none (SQLite migration 9; startFirstPass takes
 * the same lock). That test comes first, as a hashed `NOT IN` read once per statement (the
 * portal is the primary key, never null): as a correlated `NOT EXISTS` after the link's lookup, a
 * first backfill's companies page looked up each of its 1,000 linked contacts only to drop every
 * mark (scratch test, 200 such pages: 3.5–3.9 → 0.55–0.60 ms of server CPU a page).
 */
const MARK_DIRTY = `INSERT INTO dirty_contacts AS d (portal, contact_id, marked_at)
   SELECT portal, id, $4 FROM unnest($1::text[], $2::text[], $3::boolean[]) AS k(portal, id, known)
   WHERE k.portal NOT IN (SELECT u.portal FROM unscored_portals u WHERE u.pass_started_at IS NULL)
     AND (known OR EXISTS (SELECT 1 FROM records r WHERE r.portal = k.portal AND r.type = 'contacts' AND r.id = k.id))
   ON CONFLICT (portal, contact_id) DO UPDATE SET marked_at = excluded.marked_at WHERE excluded.marked_at > d.marked_at`;
const markDirty = statement('records_mark_dirty', MARK_DIRTY);
/** What commitPage writes after a page's records: its stream's cursor and its sync run's progress. */
export type PageEnd = { portal: string; stream: string; cursor: string; run: { id: number; pages: number; records: number } };
// The pages' last dirty marks, cursors and progress in one round trip instead of three: the
// statements of src/store/postgres/misc.ts (cursors_set, sync_runs_progress) as data-modifying
// CTEs, which run once and to completion whether or not the outer statement reads them
// (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING). A round trip
// costs ~100 µs of CPU between the two processes here, and a page made seven of them. Several
// pages' ends when pages of several portals commit together (group-commit.ts): one per portal and
// stream, as ON CONFLICT DO UPDATE may not touch a row twice.
const markDirtyAndEnd = statement(
  'records_pages_end',
  `WITH marks AS (
     ${MARK_DIRTY}
   ), cursor_set AS (
     INSERT INTO cursors (portal, stream, cursor, updated_at)
     SELECT portal, stream, cursor, $4 FROM unnest($5::text[], $6::text[], $7::text[]) AS e(portal, stream, cursor)
     ON CONFLICT (portal, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at
   )
   UPDATE sync_runs r SET pages = e.pages, records = e.records
   FROM unnest($8::int[], $9::int[], $10::bigint[]) AS e(pages, records, id) WHERE r.id = e.id`,
);
type Mark = { portal: string; id: string; known: boolean };
async function markDirtyOrEnd(q: Queryable, marks: readonly Mark[], t: number, ends: readonly PageEnd[]): Promise<void> {
  if (ends.length > 0) {
    await markDirtyAndEnd(q, [
      marks.map((m) => m.portal),
      marks.map((m) => m.id),
      marks.map((m) => m.known),
      t,
      ends.map((e) => e.portal),
      ends.map((e) => e.stream),
      ends.map((e) => e.cursor),
      ends.map((e) => e.run.pages),
      ends.map((e) => e.run.records),
      ends.map((e) => e.run.id),
    ]);
  } else if (marks.length > 0) {
    await markDirty(q, [marks.map((m) => m.portal), marks.map((m) => m.id), marks.map((m) => m.known), t]);
  }
}
const getOne = statement<Row>('records_get', `SELECT ${COLS} FROM records WHERE portal = $1 AND type = $2 AND id = $3`);
const linkedContacts = statement<{ to_id: string }>(
  'records_linked_contacts',
  `SELECT to_id FROM associations WHERE portal = $1 AND from_type = $2 AND from_id = $3 AND to_type = 'contacts'`,
);
const contactHistory = statement<Row>(
  'records_contact_history',
  `SELECT r.type, r.id, r.company_id, r.updated_at, r.deleted, r.data
   FROM associations a JOIN records r ON r.portal = a.portal AND r.type = a.from_type AND r.id = a.from_id
   WHERE a.portal = $1 AND a.to_type = 'contacts' AND a.to_id = $2 AND NOT r.deleted`,
);
const idsOf = statement<{ id: string }>('records_ids', 'SELECT id FROM records WHERE portal = $1 AND type = $2 AND NOT deleted ORDER BY id');
const pageLive = statement<Row>('records_page_live', `SELECT ${COLS} FROM records WHERE portal = $1 AND type = $2 AND id > $3 AND NOT deleted ORDER BY id LIMIT $4`);
const pageAll = statement<Row>('records_page_all', `SELECT ${COLS} FROM records WHERE portal = $1 AND type = $2 AND id > $3 ORDER BY id LIMIT $4`);
// in key order, so that the primary key answers (misc.ts, sync_runs_start, says why)
const anyOf = statement('records_any', 'SELECT 1 FROM records WHERE portal = $1 ORDER BY type, id LIMIT 1');
const countByType = statement<{ type: string; live: number; deleted: number }>(
  'records_counts',
  'SELECT type, count(*) FILTER (WHERE NOT deleted) AS live, count(*) FILTER (WHERE deleted) AS deleted FROM records WHERE portal = $1 GROUP BY type ORDER BY type',
);
const liveOfType = statement<Row>(
  'records_live_of_type',
  // an anti-join (hashable), not NOT (id = ANY(…)), which compares each row with each listed id
  `SELECT r.type, r.id, r.company_id, r.updated_at, r.deleted, r.data
   FROM records r LEFT JOIN unnest($3::text[]) AS l(id) ON l.id = r.id
   WHERE r.portal = $1 AND r.type = $2 AND NOT r.deleted AND l.id IS NULL ORDER BY r.id`,
);

// Merges: see mergeInto in src/store/records.ts.
const tombstone = statement(
  'records_merge_tombstone',
  'UPDATE records SET deleted = true, data = $1::json, updated_at = GREATEST(updated_at, $2), synced_at = $3 WHERE portal = $4 AND type = $5 AND id = $6',
);
// SQLite's UPDATE OR IGNORE: links that would duplicate one the survivor has are dropped (next statement)
const copyLinksTo = statement(
  'records_merge_copy_links',
  `INSERT INTO associations (portal, from_type, from_id, to_type, to_id)
   SELECT portal, from_type, from_id, to_type, $1 FROM associations WHERE portal = $2 AND to_type = $3 AND to_id = $4
   ON CONFLICT DO NOTHING`,
);
const dropLinksTo = statement('records_merge_drop_links_to', 'DELETE FROM associations WHERE portal = $1 AND to_type = $2 AND to_id = $3');
const dropLinksFrom = statement('records_merge_drop_links_from', 'DELETE FROM associations WHERE portal = $1 AND from_type = $2 AND from_id = $3');
const moveCompany = statement('records_merge_move_company', 'UPDATE records SET company_id = $1 WHERE portal = $2 AND company_id = $3');
const moveHistory = statement(
  'records_merge_move_history',
  `INSERT INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health, model_version)
   SELECT portal, $1, scored_at, satisfaction, loyalty, churn_risk, service_need, health, model_version
   FROM score_history WHERE portal = $2 AND contact_id = $3
   ON CONFLICT DO NOTHING`,
);
const forgetContact = statement(
  'records_merge_forget_contact',
  `WITH h AS (DELETE FROM score_history WHERE portal = $1 AND contact_id = $2),
        s AS (DELETE FROM scores WHERE portal = $1 AND contact_id = $2),
        o AS (DELETE FROM outbox WHERE portal = $1 AND contact_id = $2),
        w AS (DELETE FROM written WHERE portal = $1 AND contact_id = $2)
   DELETE FROM dirty_contacts WHERE portal = $1 AND contact_id = $2`,
);

async function mergeInto(q: Queryable, portal: string, type: ObjectType, loser: string, survivor: string, updatedAt: number, t: number): Promise<boolean> {
  const prior = (await getOne(q, [portal, type, loser])).rows[0];
  if (prior === undefined) return false;
  if (prior.deleted && prior.data.m === survivor) return false;
  await tombstone(q, [jsonText({ ...prior.data, m: survivor }), updatedAt, t, portal, type, loser]);
  await copyLinksTo(q, [survivor, portal, type, loser]);
  await dropLinksTo(q, [portal, type, loser]);
  await dropLinksFrom(q, [portal, type, loser]);
  if (type === 'companies') await moveCompany(q, [survivor, portal, loser]);
  if (type === 'contacts') {
    await moveHistory(q, [survivor, portal, loser]);
    await forgetContact(q, [portal, loser]);
  }
  return true;
}

const keyOf = (portal: string, type: string, id: string) => `${portal}\u0000${type}\u0000${id}`;

/** Records' ids by portal and type: `[portal, type, ids]`, one entry for a page. */
function byPortalAndType(records: readonly CrmRecord[]): [string, string, string[]][] {
  const groups = new Map<string, [string, string, string[]]>();
  for (const r of records) {
    const k = `${r.portal}\u0000${r.type}`;
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [r.portal, r.type, [r.id]]);
    else group[2].push(r.id);
  }
  return [...groups.values()];
}

/** How many rows changed, by portal. */
export type Changes = Map<string, number>;
export const totalOf = (changes: Changes): number => [...changes.values()].reduce((a, b) => a + b, 0);

/**
 * Upserts records (the caller holds the transaction): one round of distinct records at a time,
 * each round a handful of statements whatever its size. Marks every affected contact dirty, as
 * SQLite does; with `ends`, writes the pages' cursors and progress with the last marks. Returns how
 * many rows changed, by portal (pages of several portals may commit together: group-commit.ts).
 */
export async function upsertRecords(
  q: Queryable,
  records: readonly CrmRecord[],
  t: number,
  ends: readonly PageEnd[] = [],
  opts: { unstored?: boolean } = {},
): Promise<Changes> {
  const changes: Changes = new Map();
  const all = rounds(records, (r) => keyOf(r.portal, r.type, r.id));
  // `unstored`: none of these records is stored yet, so the first round inserts (a later round
  // repeats a key of an earlier one, stored by then)
  for (const [i, round] of all.entries()) await upsertRound(q, round, t, i === all.length - 1 ? ends : [], changes, opts.unstored === true && i === 0);
  if (all.length === 0) await markDirtyOrEnd(q, [], t, ends);
  return changes;
}

async function upsertRound(q: Queryable, records: readonly CrmRecord[], t: number, ends: readonly PageEnd[], changes: Changes, unstored: boolean): Promise<void> {
  // serialize first: a record that cannot be stored fails the page before anything is sent
  const payloads = records.map((r) => jsonText(r.issues && r.issues.length > 0 ? { d: r.data, i: r.issues } : { d: r.data }));
  const params = [
    records.map((r) => r.portal),
    records.map((r) => r.type),
    records.map((r) => r.id),
    records.map((r) => r.companyId),
    records.map((r) => r.updatedAt),
    records.map((r) => r.deleted),
    jsonArray(payloads),
    t,
  ];
  // by key, whether the upsert wrote the row and its content changed, and the rows it created;
  // none for a plain insert, which wrote and created every row (or failed)
  let wrote: Map<string, boolean> | undefined;
  let created: Set<string> | undefined;
  if (unstored) await insert(q, params);
  else {
    wrote = new Map();
    created = new Set();
    for (const row of (await upsert(q, params)).rows) {
      const k = keyOf(row.portal, row.type, row.id);
      wrote.set(k, row.content_changed);
      if (!row.existed) created.add(k);
    }
  }
  const existed = (r: CrmRecord) => created !== undefined && !created.has(keyOf(r.portal, r.type, r.id));
  // The contact links each record had, read after the upsert (which leaves associations alone):
  // none for a record it created, as links are written only beside their record and dropped
  // with it (mergeInto, dropLinksToContacts), so a backfill's pages read none.
  const linkable = records.filter((r) => r.type !== 'contacts' && existed(r));
  const before = new Map<string, string[]>();
  for (const [portal, type, ids] of byPortalAndType(linkable)) {
    for (const row of (await linksOf(q, [portal, type, ids])).rows) {
      const k = keyOf(portal, type, row.from_id);
      const list = before.get(k);
      if (list === undefined) before.set(k, [row.to_id]);
      else list.push(row.to_id);
    }
  }

  const count = (portal: string) => changes.set(portal, (changes.get(portal) ?? 0) + 1);
  const relink: CrmRecord[] = [];
  const newLinks: { r: CrmRecord; to: string }[] = [];
  const deletedContacts: CrmRecord[] = [];
  // a contact's own change or merge marks it (cached now: known), a link only if it is cached
  const dirty = new Map<string, Mark>();
  const affect = (portal: string, id: string, known = false) => {
    const k = `${portal}\u0000${id}`;
    const mark = dirty.get(k);
    if (mark === undefined) dirty.set(k, { portal, id, known });
    else mark.known ||= known;
  };
  for (const r of records) {
    const k = keyOf(r.portal, r.type, r.id);
    const rowChanged = wrote === undefined || wrote.has(k);
    const contentChanged = wrote === undefined || wrote.get(k) === true;
    if (rowChanged) count(r.portal);
    if (r.type === 'contacts' && contentChanged) affect(r.portal, r.id, true);
    if (r.contactIds !== undefined && r.type !== 'contacts') {
      const was = before.get(k) ?? [];
      const now = r.deleted ? [] : r.contactIds;
      const same = was.length === now.length && was.every((id) => now.includes(id));
      if (!same) {
        relink.push(r);
        for (const c of new Set(now)) newLinks.push({ r, to: c });
        if (!rowChanged) count(r.portal);
      }
      if (!same || contentChanged) for (const c of [...was, ...now]) affect(r.portal, c);
    } else if (contentChanged && r.type !== 'contacts') {
      for (const c of before.get(k) ?? []) affect(r.portal, c);
    }
    if (r.type === 'contacts' && r.deleted && rowChanged) deletedContacts.push(r);
  }
  if (relink.length > 0) {
    for (const [portal, type, ids] of byPortalAndType(relink.filter(existed))) await unlink(q, [portal, type, ids]);
    if (newLinks.length > 0) {
      await link(q, [newLinks.map((l) => l.r.portal), newLinks.map((l) => l.r.type), newLinks.map((l) => l.r.id), newLinks.map((l) => l.to)]);
    }
  }
  // HubSpot drops the associations of a deleted record: see upsertPage in src/store/records.ts
  if (deletedContacts.length > 0) await dropLinksToContacts(q, [deletedContacts.map((r) => r.portal), deletedContacts.map((r) => r.id)]);
  for (const r of records) {
    for (const loser of r.deleted ? [] : (r.mergedIds ?? [])) {
      if (!(await mergeInto(q, r.portal, r.type, loser, r.id, r.updatedAt, t))) continue;
      count(r.portal);
      if (r.type === 'contacts') affect(r.portal, r.id, true);
      else for (const x of (await linkedContacts(q, [r.portal, r.type, r.id])).rows) affect(r.portal, x.to_id);
    }
  }
  await markDirtyOrEnd(q, [...dirty.values()], t, ends);
}

/** Tombstones cached live records a sweep no longer lists (the caller holds the transaction). */
export async function tombstoneMissing(q: Queryable, portal: string, type: ObjectType, liveIds: readonly string[], at: number, t: number, end?: PageEnd): Promise<number> {
  const gone = (await liveOfType(q, [portal, type, liveIds])).rows.map(toStored);
  const tombstones: CrmRecord[] = gone.map((r) => ({
    portal,
    type,
    id: r.id,
    companyId: r.companyId,
    updatedAt: Math.max(at, r.updatedAt + 1),
    deleted: true,
    data: r.data,
    contactIds: type === 'contacts' ? undefined : [],
  }));
  return totalOf(await upsertRecords(q, tombstones, t, end === undefined ? [] : [end]));
}

export const recordReads = {
  async get(q: Queryable, portal: string, type: ObjectType, id: string): Promise<StoredRecord | undefined> {
    const row = (await getOne(q, [portal, type, id])).rows[0];
    return row === undefined ? undefined : toStored(row);
  },
  async linkedToContact(q: Queryable, portal: string, contactId: string): Promise<StoredRecord[]> {
    return (await contactHistory(q, [portal, contactId])).rows.map(toStored);
  },
  async counts(q: Queryable, portal: string): Promise<RecordCounts> {
    const out: RecordCounts = {};
    for (const row of (await countByType(q, [portal])).rows) out[row.type] = { live: row.live, deleted: row.deleted };
    return out;
  },
  async ids(q: Queryable, portal: string, type: ObjectType): Promise<string[]> {
    return (await idsOf(q, [portal, type])).rows.map((r) => r.id);
  },
  async page(q: Queryable, portal: string, type: ObjectType, after: string, limit: number, includeDeleted: boolean): Promise<StoredRecord[]> {
    return (await (includeDeleted ? pageAll : pageLive)(q, [portal, type, after, limit])).rows.map(toStored);
  },
  async hasAny(q: Queryable, portal: string): Promise<boolean> {
    return (await anyOf(q, [portal])).rows.length > 0;
  },
};

// Contacts and their links (src/store/contacts.ts). Ids compare bytewise (COLLATE "C", migration 4), as in SQLite.
const contactsIn = statement<ContactRow>(
  'contacts_chunk',
  `SELECT id, company_id, data FROM records
   WHERE portal = $1 AND type = 'contacts' AND id > $2 AND id <= $3 AND NOT deleted ORDER BY id LIMIT $4`,
);
const linksIn = statement<LinkRow>(
  'contacts_chunk_links',
  `SELECT a.to_id AS cid, r.type, r.id, r.data
   FROM associations a JOIN records r ON r.portal = a.portal AND r.type = a.from_type AND r.id = a.from_id
   WHERE a.portal = $1 AND a.to_type = 'contacts' AND a.to_id >= $2 AND a.to_id <= $3 AND NOT r.deleted`,
);
const contactsByIds = statement<ContactRow>(
  'contacts_by_ids',
  `SELECT id, company_id, data FROM records WHERE portal = $1 AND type = 'contacts' AND id = ANY($2::text[]) AND NOT deleted`,
);
const linksByIds = statement<LinkRow>(
  'contacts_links_by_ids',
  `SELECT a.to_id AS cid, r.type, r.id, r.data
   FROM associations a JOIN records r ON r.portal = a.portal AND r.type = a.from_type AND r.id = a.from_id
   WHERE a.portal = $1 AND a.to_type = 'contacts' AND a.to_id = ANY($2::text[]) AND NOT r.deleted`,
);
const countAll = statement<{ n: number }>('contacts_count_all', "SELECT count(*) AS n FROM records WHERE portal = $1 AND type = 'contacts'");
const countLive = statement<{ n: number }>('contacts_count_live', "SELECT count(*) AS n FROM records WHERE portal = $1 AND type = 'contacts' AND NOT deleted");
// SQLite's json_extract(...) IS NULL OR ... <= ?: a JSON null or missing time counts as created; a
// non-number never compares as earlier (SQLite orders any TEXT after every number)
const countCreatedBy = statement<{ n: number }>(
  'contacts_count_created_by',
  `SELECT count(*) AS n FROM records WHERE portal = $1 AND type = 'contacts' AND NOT deleted
     AND (COALESCE(json_typeof(data->'d'->'createdAt'), 'null') = 'null'
          OR (json_typeof(data->'d'->'createdAt') = 'number' AND (data->'d'->>'createdAt')::double precision <= $2))`,
);
const idAt = statement<{ id: string }>('contacts_id_at', "SELECT id FROM records WHERE portal = $1 AND type = 'contacts' ORDER BY id LIMIT 1 OFFSET $2");
const companiesOf = statement<{ id: string; data: Payload }>('contacts_companies', "SELECT id, data FROM records WHERE portal = $1 AND type = 'companies' AND NOT deleted");

export const contactReads = {
  async chunk(q: Queryable, portal: string, range: IdRange, limit: number): Promise<ContactWithLinks[]> {
    const rows = (await contactsIn(q, [portal, range.after ?? '', range.through ?? '\uffff', limit])).rows;
    if (rows.length === 0) return [];
    const chunk = rows.map(toContact);
    const byId = new Map(chunk.map((c) => [c.id, c]));
    const links = await linksIn(q, [portal, rows[0]!.id, rows[rows.length - 1]!.id]);
    for (const l of links.rows) byId.get(l.cid)?.linked.push(toLinked(l));
    return chunk;
  },
  async byIds(q: Queryable, portal: string, ids: readonly string[]): Promise<ContactWithLinks[]> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return [];
    const found = new Map((await contactsByIds(q, [portal, wanted])).rows.map((r) => [r.id, toContact(r)]));
    if (found.size === 0) return [];
    for (const l of (await linksByIds(q, [portal, [...found.keys()]])).rows) found.get(l.cid)?.linked.push(toLinked(l));
    return wanted.flatMap((id) => found.get(id) ?? []);
  },
  async count(q: Queryable, portal: string, opts: { includeDeleted?: boolean; createdBy?: number } = {}): Promise<number> {
    if (opts.createdBy !== undefined) return (await countCreatedBy(q, [portal, opts.createdBy])).rows[0]?.n ?? 0;
    return (await (opts.includeDeleted === true ? countAll : countLive)(q, [portal])).rows[0]?.n ?? 0;
  },
  async shareEnds(q: Queryable, portal: string, shares: number): Promise<(string | undefined)[]> {
    const n = (await countAll(q, [portal])).rows[0]?.n ?? 0;
    const ends: (string | undefined)[] = [];
    for (let i = 1; i < shares; i++) {
      // SQLite reads a negative OFFSET as 0; Postgres refuses one
      ends.push((await idAt(q, [portal, Math.max(0, Math.floor((n * i) / shares) - 1)])).rows[0]?.id);
    }
    ends.push(undefined);
    return ends;
  },
  async companies(q: Queryable, portal: string): Promise<{ id: string; data: RecordData }[]> {
    return (await companiesOf(q, [portal])).rows.map((r) => ({ id: r.id, data: r.data.d }));
  },
};
