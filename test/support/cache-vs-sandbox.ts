import Database from 'better-sqlite3';
import { OBJECT_TYPES, type ObjectType } from '../../src/connectors/types.ts';
import type { HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';

/**
 * Compares Rapport's cache (read straight from the SQLite file, as an auditor would) with the
 * sandbox's own storage: same ids per type, same updatedAt, same deletions, same links to
 * contacts. Returns a list of differences (empty = equal), capped so a failure stays readable.
 */
export function diffCacheWithSandbox(dbPath: string, sandbox: HubspotSandbox, hubId: number, types: readonly ObjectType[] = OBJECT_TYPES): string[] {
  const portal = `hubspot:${hubId}`;
  const db = new Database(dbPath, { readonly: true });
  const diffs: string[] = [];
  const add = (d: string) => {
    if (diffs.length < 30) diffs.push(d);
  };
  try {
    const rows = db.prepare<[string, string], { id: string; updated_at: number; deleted: number }>(
      'SELECT id, updated_at, deleted FROM records WHERE portal = ? AND type = ?',
    );
    const links = db.prepare<[string, string], { from_id: string; to_id: string }>(
      "SELECT from_id, to_id FROM associations WHERE portal = ? AND from_type = ? AND to_type = 'contacts'",
    );
    for (const type of types) {
      const cached = new Map(rows.all(portal, type).map((r) => [r.id, r]));
      const cachedLinks = new Map<string, string[]>();
      for (const l of links.all(portal, type)) cachedLinks.set(l.from_id, [...(cachedLinks.get(l.from_id) ?? []), l.to_id]);
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
          if (!archived && type !== 'contacts') {
            const want = sandbox.data.associationsOf(hubId, type, o.id, 'contacts').sort();
            const got = (cachedLinks.get(o.id) ?? []).sort();
            if (want.join(',') !== got.join(',')) add(`${type}/${o.id}: contacts [${got.join(',')}] ≠ sandbox [${want.join(',')}]`);
          }
        }
      }
      if (seen !== cached.size) add(`${type}: cache has ${cached.size} rows, ${cached.size - seen} not in the sandbox`);
    }
  } finally {
    db.close();
  }
  return diffs;
}
