import Database from 'better-sqlite3';
import { OBJECT_TYPES, type ObjectType } from '../../src/connectors/types.ts';
import type { HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import type { Store } from '../../src/store/port.ts';
import type { SandboxStorage } from '../../src/sandbox/hubspot/storage.ts';

/**
 * Compares Rapport's cache (read straight from the SQLite file, as an auditor would) with the
 * sandbox's own storage: same ids per type, same updatedAt, same deletions, same links to
 * contacts, same primary company; records merged away are tombstones naming their survivor,
 * records purged (GDPR) are tombstones. Returns a list of differences (empty = equal), capped
 * so a failure stays readable.
 */
export function diffCacheWithSandbox(dbPath: string, sandbox: HubspotSandbox, hubId: number, types: readonly ObjectType[] = OBJECT_TYPES): string[] {
  const portal = `hubspot:${hubId}`;
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.prepare<[string, string], CachedRow>('SELECT id, updated_at, deleted, company_id, data FROM records WHERE portal = ? AND type = ?');
    const links = db.prepare<[string, string], { from_id: string; to_id: string }>(
      "SELECT from_id, to_id FROM associations WHERE portal = ? AND from_type = ? AND to_type = 'contacts'",
    );
    return diffRowsWithSandbox({ rows: (type) => rows.all(portal, type), links: (type) => links.all(portal, type) }, sandbox, hubId, types);
  } finally {
    db.close();
  }
}

/**
 * The same comparison with the cache read through the store port (either store): every record of
 * each type with tombstones, and the links to contacts from the records linked to each cached contact.
 */
export async function diffStoreWithSandbox(store: Pick<Store, 'records'>, sandbox: HubspotSandbox, hubId: number, types: readonly ObjectType[] = OBJECT_TYPES): Promise<string[]> {
  const portal = `hubspot:${hubId}`;
  const rows = new Map<ObjectType, CachedRow[]>();
  const links = new Map<ObjectType, { from_id: string; to_id: string }[]>();
  for (const type of new Set<ObjectType>([...types, 'contacts'])) {
    const list: CachedRow[] = [];
    for await (const r of store.records.iterate(portal, type, true)) {
      // the row's JSON as SQLite keeps it: the data under `d`, a merge's survivor under `m`
      list.push({ id: r.id, updated_at: r.updatedAt, deleted: r.deleted ? 1 : 0, company_id: r.companyId, data: JSON.stringify({ d: r.data, ...(r.mergedInto === null ? {} : { m: r.mergedInto }) }) });
    }
    rows.set(type, list);
  }
  for (const contact of rows.get('contacts') ?? []) {
    for (const r of await store.records.linkedToContact(portal, contact.id)) links.set(r.type, [...(links.get(r.type) ?? []), { from_id: r.id, to_id: contact.id }]);
  }
  return diffRowsWithSandbox({ rows: (type) => rows.get(type) ?? [], links: (type) => links.get(type) ?? [] }, sandbox, hubId, types);
}

/** A cached record as SQLite stores it (the Postgres reader converts its rows to this). */
export type CachedRow = { id: string; updated_at: number; deleted: number; company_id: string | null; data: string };

/** The same comparison over rows read from any store (test/postgres reads them from Postgres). */
export function diffRowsWithSandbox(
  cache: { rows(type: ObjectType): CachedRow[]; links(type: ObjectType): { from_id: string; to_id: string }[] },
  sandbox: HubspotSandbox,
  hubId: number,
  types: readonly ObjectType[] = OBJECT_TYPES,
): string[] {
  const diffs: string[] = [];
  const add = (d: string) => {
    if (diffs.length < 30) diffs.push(d);
  };
  // the sandbox's storage (a test reads it directly, as an auditor would)
  const storage = sandbox.data as unknown as SandboxStorage;
  const primaryCompany = (contactId: string): string | null => {
    const rows = storage.associationRows(hubId, 'contacts', contactId, 'companies', -1, 10_000);
    const primary = rows.find((r) => r.typeKeys.includes(1)) ?? rows[0];
    return primary === undefined ? null : String(primary.toId);
  };
  for (const type of types) {
    const cached = new Map(cache.rows(type).map((r) => [r.id, r]));
    const cachedLinks = new Map<string, string[]>();
    for (const l of cache.links(type)) cachedLinks.set(l.from_id, [...(cachedLinks.get(l.from_id) ?? []), l.to_id]);
    let seen = 0;
    for (const archived of [false, true]) {
      for (const o of sandbox.data.iterate(hubId, type, { archived })) {
        const c = cached.get(o.id);
        if (c === undefined) {
          // A record archived before we ever saw it may legitimately be absent.
          if (!archived) add(`${type}/${o.id}: missing from the cache`);
          continue;
        }
        seen++;
        if (c.deleted !== (archived ? 1 : 0)) add(`${type}/${o.id}: deleted=${c.deleted} but sandbox archived=${archived}`);
        if (!archived && c.updated_at !== o.updatedAt) add(`${type}/${o.id}: updatedAt ${c.updated_at} ≠ sandbox ${o.updatedAt}`);
        if (!archived && type === 'contacts' && c.company_id !== primaryCompany(o.id)) {
          add(`${type}/${o.id}: company ${c.company_id} ≠ sandbox primary ${primaryCompany(o.id)}`);
        }
        if (!archived && type !== 'contacts') {
          const want = sandbox.data.associationsOf(hubId, type, o.id, 'contacts').sort();
          const got = (cachedLinks.get(o.id) ?? []).sort();
          if (want.join(',') !== got.join(',')) add(`${type}/${o.id}: contacts [${got.join(',')}] ≠ sandbox [${want.join(',')}]`);
        }
      }
    }
    // the rest must be tombstones of records the sandbox merged away or purged
    const listed = new Set<string>();
    for (const archived of [false, true]) for (const o of sandbox.data.iterate(hubId, type, { archived })) listed.add(o.id);
    for (const [id, c] of cached) {
      if (listed.has(id)) continue;
      const raw = sandbox.data.get(hubId, type, id);
      const mergedInto = (JSON.parse(c.data) as { m?: string }).m;
      if (c.deleted !== 1) add(`${type}/${id}: live in the cache, gone from the sandbox`);
      else if (raw === undefined) seen++; // purged: a tombstone is right
      else {
        const survivor = storage.getStored(hubId, type, id, false)?.id;
        if (survivor !== undefined && survivor !== id && mergedInto === survivor) seen++;
        else add(`${type}/${id}: tombstone names survivor ${mergedInto ?? 'none'}, sandbox merged it into ${survivor ?? 'nothing'}`);
      }
    }
    if (seen !== cached.size) add(`${type}: cache has ${cached.size} rows, ${cached.size - seen} not in the sandbox`);
  }
  return diffs;
}
