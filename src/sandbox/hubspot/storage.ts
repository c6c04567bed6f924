import Database from 'better-sqlite3';
import type { GeneratedBatch, HubspotObjectType, SandboxObject } from '../model.ts';
import { associationTypeInfo, defaultAssociationTypeId, resolveTypeKey } from './association-types.ts';
import type { Clock } from './clock.ts';
import { createdProperty, modifiedProperty } from './object-types.ts';
import type { PropertyDefinition, PropertyGroup } from './property-definitions.ts';
import type { AssociationInput, SandboxChange, SandboxData } from './types.ts';

/**
 * The sandbox's own SQLite storage (never Rapport's database). Objects keep their properties as
 * JSON next to indexed id / created / modified / archived columns, so a 1,000,000-contact portal
 * is paged by SQL and never held in memory. Associations are stored in both directions.
 */

/** Properties HubSpot maintains from the record itself; served from the columns, never stored. */
const SYSTEM_PROPERTIES = new Set(['hs_object_id', 'createdate', 'hs_createdate', 'lastmodifieddate', 'hs_lastmodifieddate']);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  hub_id INTEGER NOT NULL, type TEXT NOT NULL, id INTEGER NOT NULL,
  properties TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0, archived_at INTEGER,
  PRIMARY KEY (hub_id, type, id)
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS objects_by_modified ON objects (hub_id, type, archived, updated_at, id);
CREATE INDEX IF NOT EXISTS objects_by_created ON objects (hub_id, type, archived, created_at, id);
CREATE TABLE IF NOT EXISTS associations (
  hub_id INTEGER NOT NULL, from_type TEXT NOT NULL, from_id INTEGER NOT NULL,
  to_type TEXT NOT NULL, to_id INTEGER NOT NULL, type_id INTEGER NOT NULL,
  PRIMARY KEY (hub_id, from_type, from_id, to_type, to_id, type_id)
) WITHOUT ROWID, STRICT;
-- merged-away records (objects.archived = 2): which record they live on in
CREATE TABLE IF NOT EXISTS merges (
  hub_id INTEGER NOT NULL, type TEXT NOT NULL, loser_id INTEGER NOT NULL, survivor_id INTEGER NOT NULL,
  PRIMARY KEY (hub_id, type, loser_id)
) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS property_definitions (
  hub_id INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
  PRIMARY KEY (hub_id, type, name)
) STRICT;
CREATE TABLE IF NOT EXISTS property_groups (
  hub_id INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL, grp TEXT NOT NULL,
  PRIMARY KEY (hub_id, type, name)
) STRICT;
`;

export type ObjectRow = {
  id: number;
  properties: string;
  created_at: number;
  updated_at: number;
  archived: number;
  archived_at: number | null;
};

/** A column the SQL layer can filter and order on. */
export type IndexedColumn = 'id' | 'created_at' | 'updated_at';
export type ColumnCondition =
  | { column: IndexedColumn; op: '=' | '<>' | '>' | '>=' | '<' | '<='; value: number }
  /**
   * Indexed by `value` (now) under a search lag of up to `lagMs`: each record trails by its own
   * share of the lag (fixed per id, 0…lagMs, scattered by a quadratic hash so neighbouring ids
   * differ), so a record changed earlier can become searchable after one changed later, as with
   * HubSpot's asynchronous index.
   */
  | { column: 'indexed_by'; lagMs: number; value: number };

/** A served object; the ISO times are computed once per row (they appear twice on the wire). */
export type StoredObject = SandboxObject & { archivedAt: number | null; createdIso: string; updatedIso: string };

export type SandboxStorage = SandboxData & {
  readonly db: Database.Database;
  /** one page of a list call: ids strictly above `afterId`, ascending */
  listPage(hubId: number, type: HubspotObjectType, opts: { archived: boolean; afterId: number; limit: number }): StoredObject[];
  getStored(hubId: number, type: HubspotObjectType, id: string, archived?: boolean): StoredObject | undefined;
  /** streams matching objects in (column, id) order, in keyset chunks (no open cursor between chunks) */
  scan(hubId: number, type: HubspotObjectType, opts: { orderBy: IndexedColumn; descending: boolean; conditions: readonly ColumnCondition[] }): Iterable<StoredObject>;
  countWhere(hubId: number, type: HubspotObjectType, conditions: readonly ColumnCondition[]): number;
  pageWhere(hubId: number, type: HubspotObjectType, opts: { orderBy: IndexedColumn; descending: boolean; conditions: readonly ColumnCondition[]; offset: number; limit: number }): StoredObject[];
  /** `create` with the change source and explicit association type ids (the API's inline associations) */
  createFrom(
    hubId: number,
    type: HubspotObjectType,
    properties: Record<string, string | null>,
    associations: ReadonlyArray<AssociationInput & { typeId?: number }>,
    source: 'api' | 'admin',
  ): StoredObject;
  archiveFrom(hubId: number, type: HubspotObjectType, id: string, source: 'api' | 'admin'): void;
  /** validated property writes from the API (batch update), all in one transaction */
  applyUpdates(hubId: number, type: HubspotObjectType, updates: ReadonlyArray<{ id: string; properties: Record<string, string | null> }>, source: 'api' | 'admin'): StoredObject[];
  /** association rows (every type, as type keys: user labels are −typeId) from one object to a type, ordered by to_id, after `afterToId` */
  associationRows(hubId: number, fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, afterToId: number, limit: number): Array<{ toId: number; typeKeys: number[] }>;
  /** the first `limit` association rows of each of many objects to a type (a list page's inline associations, in one query) */
  associationRowsOf(hubId: number, fromType: HubspotObjectType, fromIds: readonly string[], toType: HubspotObjectType, limit: number): Map<string, Array<{ toId: number; typeKeys: number[] }>>;
  customDefinitions(hubId: number, type: HubspotObjectType): PropertyDefinition[];
  saveDefinition(hubId: number, type: HubspotObjectType, def: PropertyDefinition): void;
  customGroups(hubId: number, type: HubspotObjectType): PropertyGroup[];
  saveGroup(hubId: number, type: HubspotObjectType, group: PropertyGroup): void;
  close(): void;
};

function toNumericId(id: string): number | undefined {
  if (!/^\d{1,15}$/.test(id)) return undefined;
  return Number(id);
}

function requireNumericId(id: string, what: string): number {
  const n = toNumericId(id);
  if (n === undefined) throw new RangeError(`${what}: HubSpot record ids are numeric strings, got ${JSON.stringify(id)}`);
  return n;
}

function stripSystem(properties: Record<string, string | null | undefined>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(properties)) {
    if (SYSTEM_PROPERTIES.has(k) || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Stored properties plus the ones HubSpot derives from the record (id, created, modified).
 * Mutates and returns `stored` (a freshly parsed object): this runs for every row served.
 */
export function withSystemProperties(
  type: HubspotObjectType,
  row: { id: number; created_at: number; updated_at: number },
  stored: Record<string, string | null>,
  iso: { created: string; updated: string } = { created: new Date(row.created_at).toISOString(), updated: new Date(row.updated_at).toISOString() },
): Record<string, string | null> {
  stored.hs_object_id = String(row.id);
  stored[createdProperty(type)] = iso.created;
  stored[modifiedProperty(type)] = iso.updated;
  // contacts carry both modified properties (https://developers.hubspot.com/docs/api/crm/properties)
  if (type === 'contacts') stored.hs_lastmodifieddate = iso.updated;
  return stored;
}

function rowToObject(type: HubspotObjectType, row: ObjectRow): StoredObject {
  const iso = { created: new Date(row.created_at).toISOString(), updated: new Date(row.updated_at).toISOString() };
  return {
    type,
    id: String(row.id),
    properties: withSystemProperties(type, row, JSON.parse(row.properties) as Record<string, string | null>, iso),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archived: row.archived === 1,
    archivedAt: row.archived_at,
    createdIso: iso.created,
    updatedIso: iso.updated,
  };
}

const CHUNK = 500;

export function createSandboxStorage(opts: { dbPath?: string; clock: Clock }): SandboxStorage {
  const db = new Database(opts.dbPath ?? ':memory:');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(SCHEMA);
  const clock = opts.clock;
  const listeners = new Set<(e: SandboxChange) => void>();

  const st = {
    get: db.prepare<[number, string, number], ObjectRow>(
      'SELECT id, properties, created_at, updated_at, archived, archived_at FROM objects WHERE hub_id = ? AND type = ? AND id = ?',
    ),
    list: db.prepare<[number, string, number, number, number], ObjectRow>(
      'SELECT id, properties, created_at, updated_at, archived, archived_at FROM objects WHERE hub_id = ? AND type = ? AND archived = ? AND id > ? ORDER BY id LIMIT ?',
    ),
    insert: db.prepare<[number, string, number, string, number, number, number, number | null]>(
      'INSERT OR REPLACE INTO objects (hub_id, type, id, properties, created_at, updated_at, archived, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    updateProps: db.prepare<[string, number, number, string, number]>(
      'UPDATE objects SET properties = ?, updated_at = ? WHERE hub_id = ? AND type = ? AND id = ?',
    ),
    archive: db.prepare<[number, number, number, string, number]>(
      'UPDATE objects SET archived = 1, archived_at = ?, updated_at = ? WHERE hub_id = ? AND type = ? AND id = ?',
    ),
    maxId: db.prepare<[number, string], { m: number | null }>('SELECT MAX(id) AS m FROM objects WHERE hub_id = ? AND type = ?'),
    count: db.prepare<[number, string, number], { n: number }>('SELECT COUNT(*) AS n FROM objects WHERE hub_id = ? AND type = ? AND archived = ?'),
    assocInsert: db.prepare<[number, string, number, string, number, number]>(
      'INSERT OR IGNORE INTO associations (hub_id, from_type, from_id, to_type, to_id, type_id) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    assocDelete: db.prepare<[number, string, number, string, number]>(
      'DELETE FROM associations WHERE hub_id = ? AND from_type = ? AND from_id = ? AND to_type = ? AND to_id = ?',
    ),
    // Associations to archived records are not returned by HubSpot ("when a record is deleted,
    // its associations are removed", https://knowledge.hubspot.com/records/restore-deleted-records
    // restores them with the record): rows are kept, so a restore could bring them back, but never served.
    assocIds: db.prepare<[number, string, number, string], { to_id: number }>(
      `SELECT DISTINCT a.to_id FROM associations a JOIN objects o ON o.hub_id = a.hub_id AND o.type = a.to_type AND o.id = a.to_id
       WHERE a.hub_id = ? AND a.from_type = ? AND a.from_id = ? AND a.to_type = ? AND o.archived = 0 ORDER BY a.to_id`,
    ),
    assocRows: db.prepare<[number, string, number, string, number, number], { to_id: number; type_ids: string }>(
      `SELECT a.to_id, group_concat(a.type_id) AS type_ids FROM associations a
       JOIN objects o ON o.hub_id = a.hub_id AND o.type = a.to_type AND o.id = a.to_id
       WHERE a.hub_id = ? AND a.from_type = ? AND a.from_id = ? AND a.to_type = ? AND a.to_id > ? AND o.archived = 0
       GROUP BY a.to_id ORDER BY a.to_id LIMIT ?`,
    ),
    // assocRows for many objects at once, one statement per list page instead of one per object (it
    // was the emulator's largest cost in bench:scale): rows in (from, to, type) order, straight off
    // the primary key (the IN list is walked sorted), grouped and capped per object by
    // associationRowsOf; a GROUP BY with a row_number() window for the cap took twice as long.
    // Archived targets are left out by associationRowsOf (anyArchived, archivedAmong), not by a join
    // with objects: the join's lookup per row was half the statement's time (bench:scale's sandbox
    // spent 1.3 of its 4.3 CPU-s here), and most portals have nothing archived. Every row names
    // stored objects (associate and load check both ends; merge and purge drop a record's rows).
    // The page's ids as a range, one walk of the key instead of a seek per id (a list page is a run
    // of ids); rows of objects in the range but not on the page are skipped by associationRowsOf.
    assocRowsOf: db
      .prepare<[number, string, number, number, string], [number, number, number]>(
        `SELECT from_id, to_id, type_id FROM associations
         WHERE hub_id = ? AND from_type = ? AND from_id BETWEEN ? AND ? AND to_type = ?
         ORDER BY from_id, to_id, type_id`,
      )
      .raw(true),
    exists: db.prepare<[number, string, number], { one: number }>('SELECT 1 AS one FROM objects WHERE hub_id = ? AND type = ? AND id = ?'),
    anyArchived: db.prepare<[number, string], { one: number }>('SELECT 1 AS one FROM objects WHERE hub_id = ? AND type = ? AND archived > 0 LIMIT 1'),
    archivedAmong: db
      .prepare<[number, string, string], [number]>('SELECT id FROM objects WHERE hub_id = ? AND type = ? AND id IN (SELECT value FROM json_each(?)) AND archived <> 0')
      .raw(true),
    assocOfType: db.prepare<[number, string, number, string, number], { to_id: number }>(
      'SELECT to_id FROM associations WHERE hub_id = ? AND from_type = ? AND from_id = ? AND to_type = ? AND type_id = ?',
    ),
    assocDeleteOne: db.prepare<[number, string, number, string, number, number]>(
      'DELETE FROM associations WHERE hub_id = ? AND from_type = ? AND from_id = ? AND to_type = ? AND to_id = ? AND type_id = ?',
    ),
    defs: db.prepare<[number, string], { definition: string }>('SELECT definition FROM property_definitions WHERE hub_id = ? AND type = ? ORDER BY name'),
    saveDef: db.prepare<[number, string, string, string]>('INSERT OR REPLACE INTO property_definitions (hub_id, type, name, definition) VALUES (?, ?, ?, ?)'),
    groups: db.prepare<[number, string], { grp: string }>('SELECT grp FROM property_groups WHERE hub_id = ? AND type = ? ORDER BY name'),
    saveGroup: db.prepare<[number, string, string, string]>('INSERT OR REPLACE INTO property_groups (hub_id, type, name, grp) VALUES (?, ?, ?, ?)'),
    survivorOf: db.prepare<[number, string, number], { survivor_id: number }>('SELECT survivor_id FROM merges WHERE hub_id = ? AND type = ? AND loser_id = ?'),
    addMerge: db.prepare<[number, string, number, number]>('INSERT OR REPLACE INTO merges (hub_id, type, loser_id, survivor_id) VALUES (?, ?, ?, ?)'),
    // earlier losers of the loser now live on the survivor too
    repointMerges: db.prepare<[number, number, string, number]>('UPDATE merges SET survivor_id = ? WHERE hub_id = ? AND type = ? AND survivor_id = ?'),
    markMerged: db.prepare<[number, number, string, number]>('UPDATE objects SET archived = 2, updated_at = ? WHERE hub_id = ? AND type = ? AND id = ?'),
    assocFrom: db.prepare<[number, string, number], { to_type: string; to_id: number; type_id: number }>(
      'SELECT to_type, to_id, type_id FROM associations WHERE hub_id = ? AND from_type = ? AND from_id = ?',
    ),
    assocDeleteFrom: db.prepare<[number, string, number]>('DELETE FROM associations WHERE hub_id = ? AND from_type = ? AND from_id = ?'),
    assocDeleteTo: db.prepare<[number, string, number]>('DELETE FROM associations WHERE hub_id = ? AND to_type = ? AND to_id = ?'),
    deleteObject: db.prepare<[number, string, number]>('DELETE FROM objects WHERE hub_id = ? AND type = ? AND id = ?'),
  };

  /**
   * One association change as HubSpot reports it: an event per direction (the
   * `*.associationChange` subscription "fires once for each direction", https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide,
   * https://developers.hubspot.com/docs/api/webhooks#association-change-events).
   */
  const associationEvents = (
    hubId: number, fromType: HubspotObjectType, fromId: string, toType: HubspotObjectType, toId: string,
    added: boolean, at: number, source: 'api' | 'admin', primary: boolean,
  ): SandboxChange[] => [
    { hubId, kind: 'associationChange', type: fromType, id: fromId, toType, toId, associationAdded: added, primary, at, source },
    { hubId, kind: 'associationChange', type: toType, id: toId, toType: fromType, toId: fromId, associationAdded: added, primary, at, source },
  ];

  const emit = (events: readonly SandboxChange[]) => {
    for (const e of events) for (const l of listeners) l(e);
  };

  const nextId = (hubId: number, type: HubspotObjectType): number => {
    const m = st.maxId.get(hubId, type)?.m ?? null;
    // HubSpot ids are large opaque numbers; start well above small hand-written test ids.
    return Math.max(m ?? 0, 1_000_000) + 1;
  };

  const getRow = (hubId: number, type: HubspotObjectType, id: string): ObjectRow | undefined => {
    const n = toNumericId(id);
    return n === undefined ? undefined : st.get.get(hubId, type, n);
  };

  /** `typeKey`: see resolveTypeKey (rows store keys: user labels as −typeId) */
  const storeAssociation = (hubId: number, fromType: HubspotObjectType, fromId: number, toType: HubspotObjectType, toId: number, typeKey?: number) => {
    const asked = typeKey ?? defaultAssociationTypeId(fromType, toType);
    if (asked === undefined) throw new RangeError(`no HubSpot-defined association from ${fromType} to ${toType}`);
    const info = resolveTypeKey(fromType, toType, asked);
    if (info === undefined) throw new RangeError(`association type ${asked} is not defined from ${fromType} to ${toType}`);
    const forward = info.key;
    if (info.primary) {
      // One primary company per record: setting a new one replaces the old
      // (https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide, "Primary" association).
      for (const old of st.assocOfType.all(hubId, fromType, fromId, toType, forward)) {
        if (old.to_id === toId) continue;
        st.assocDeleteOne.run(hubId, fromType, fromId, toType, old.to_id, forward);
        st.assocDeleteOne.run(hubId, toType, old.to_id, fromType, fromId, info.reverseKey);
      }
    }
    st.assocInsert.run(hubId, fromType, fromId, toType, toId, forward);
    st.assocInsert.run(hubId, toType, toId, fromType, fromId, info.reverseKey);
    // a primary or user-labelled association implies the unlabeled one too (https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide example lists all three)
    if (info.primary || info.category === 'USER_DEFINED') {
      st.assocInsert.run(hubId, fromType, fromId, toType, toId, info.unlabeledTypeId);
      const reverseUnlabeled = defaultAssociationTypeId(toType, fromType);
      if (reverseUnlabeled !== undefined) st.assocInsert.run(hubId, toType, toId, fromType, fromId, reverseUnlabeled);
    }
  };

  const requireRow = (hubId: number, type: HubspotObjectType, id: string): ObjectRow => {
    const row = getRow(hubId, type, id);
    if (row === undefined) throw new RangeError(`no ${type} with id ${id} in portal ${hubId}`);
    return row;
  };

  const applyChanges = (
    hubId: number,
    type: HubspotObjectType,
    id: string,
    properties: Record<string, string | null>,
    source: 'api' | 'admin',
    events: SandboxChange[],
  ): void => {
    const row = requireRow(hubId, type, id);
    if (row.archived === 1) throw new RangeError(`${type} ${id} is archived`);
    const stored = JSON.parse(row.properties) as Record<string, string | null>;
    const at = clock.now();
    let changed = false;
    for (const [name, value] of Object.entries(stripSystem(properties))) {
      const next = value === '' ? null : value;
      if ((stored[name] ?? null) === next) continue;
      if (next === null) delete stored[name];
      else stored[name] = next;
      changed = true;
      events.push({ hubId, kind: 'propertyChange', type, id, propertyName: name, propertyValue: next, at, source });
    }
    if (changed) st.updateProps.run(JSON.stringify(stored), Math.max(at, row.updated_at), hubId, type, row.id);
  };

  const rowsToObjects = (type: HubspotObjectType, rows: ObjectRow[]) => rows.map((r) => rowToObject(type, r));

  const where = (conditions: readonly ColumnCondition[]) => {
    const parts = conditions.map((c) => (c.column === 'indexed_by' ? 'updated_at + (((id % 997) * (id % 997) + 31 * (id % 997)) % 997) * ? / 996 <= ?' : `${c.column} ${c.op} ?`));
    const params = conditions.flatMap((c) => (c.column === 'indexed_by' ? [c.lagMs, c.value] : [c.value]));
    return { sql: parts.length === 0 ? '' : ` AND ${parts.join(' AND ')}`, params };
  };

  const storage: SandboxStorage = {
    db,
    create(hubId, type, properties, associations = []) {
      return storage.createFrom(hubId, type, properties, associations, 'admin');
    },
    createFrom(hubId, type, properties, associations, source) {
      const at = clock.now();
      const events: SandboxChange[] = [];
      const id = db.transaction(() => {
        const newId = nextId(hubId, type);
        st.insert.run(hubId, type, newId, JSON.stringify(stripSystem(properties)), at, at, 0, null);
        for (const a of associations) {
          const toId = requireNumericId(a.id, 'association target');
          requireRow(hubId, a.type, a.id);
          storeAssociation(hubId, type, newId, a.type, toId, a.typeId);
          const primary = a.typeId !== undefined && resolveTypeKey(type, a.type, a.typeId)?.primary === true;
          events.push(...associationEvents(hubId, type, String(newId), a.type, a.id, true, at, source, primary));
        }
        return newId;
      })();
      events.unshift({ hubId, kind: 'creation', type, id: String(id), at, source });
      emit(events);
      return rowToObject(type, st.get.get(hubId, type, id) as ObjectRow);
    },
    update(hubId, type, id, properties) {
      const events: SandboxChange[] = [];
      db.transaction(() => applyChanges(hubId, type, id, properties, 'admin', events))();
      emit(events);
      return rowToObject(type, requireRow(hubId, type, id));
    },
    applyUpdates(hubId, type, updates, source) {
      const events: SandboxChange[] = [];
      db.transaction(() => {
        for (const u of updates) applyChanges(hubId, type, u.id, u.properties, source, events);
      })();
      emit(events);
      return updates.map((u) => rowToObject(type, requireRow(hubId, type, u.id)));
    },
    archive(hubId, type, id) {
      storage.archiveFrom(hubId, type, id, 'admin');
    },
    archiveFrom(hubId, type, id, source) {
      const row = requireRow(hubId, type, id);
      if (row.archived === 1) return;
      const at = clock.now();
      st.archive.run(at, Math.max(at, row.updated_at), hubId, type, row.id);
      emit([{ hubId, kind: 'deletion', type, id, at, source }]);
    },
    associate(hubId, fromType, fromId, toType, toId, typeId) {
      requireRow(hubId, fromType, fromId);
      requireRow(hubId, toType, toId);
      // Real HubSpot does not bump lastmodifieddate on association changes (https://github.com/airbytehq/airbyte/issues/27199).
      db.transaction(() => storeAssociation(hubId, fromType, Number(fromId), toType, Number(toId), typeId))();
      const primary = typeId !== undefined && resolveTypeKey(fromType, toType, typeId)?.primary === true;
      emit(associationEvents(hubId, fromType, fromId, toType, toId, true, clock.now(), 'admin', primary));
    },
    dissociate(hubId, fromType, fromId, toType, toId) {
      const from = requireNumericId(fromId, 'dissociate');
      const to = requireNumericId(toId, 'dissociate');
      db.transaction(() => {
        st.assocDelete.run(hubId, fromType, from, toType, to);
        st.assocDelete.run(hubId, toType, to, fromType, from);
      })();
      emit(associationEvents(hubId, fromType, fromId, toType, toId, false, clock.now(), 'admin', false));
    },
    merge(hubId, type, survivorId, loserId) {
      if (survivorId === loserId) throw new RangeError(`cannot merge ${type} ${loserId} into itself`);
      const survivor = requireRow(hubId, type, survivorId);
      const loser = requireRow(hubId, type, loserId);
      if (survivor.archived !== 0 || loser.archived !== 0) throw new RangeError(`only live ${type} can be merged (${survivorId}, ${loserId})`);
      const at = clock.now();
      let moved = 0;
      db.transaction(() => {
        // The survivor keeps its own values and takes the loser's where it has none; it lists the
        // merged ids in hs_merged_object_ids (;-separated, https://knowledge.hubspot.com/records/merge-records).
        const props = JSON.parse(survivor.properties) as Record<string, string | null>;
        const loserProps = JSON.parse(loser.properties) as Record<string, string | null>;
        for (const [k, v] of Object.entries(loserProps)) {
          if (k === 'hs_merged_object_ids' || v === null || (props[k] ?? null) !== null) continue;
          props[k] = v;
          moved++;
        }
        const merged = new Set([...(props.hs_merged_object_ids ?? '').split(';'), ...(loserProps.hs_merged_object_ids ?? '').split(';'), loserId].filter((x) => x !== ''));
        props.hs_merged_object_ids = [...merged].join(';');
        st.updateProps.run(JSON.stringify(props), Math.max(at, survivor.updated_at), hubId, type, survivor.id);
        // associations move to the survivor; its own primary company stays the primary
        for (const a of st.assocFrom.all(hubId, type, loser.id)) {
          const toType = a.to_type as HubspotObjectType;
          const info = associationTypeInfo(type, toType, a.type_id);
          if (info === undefined || (toType === type && a.to_id === survivor.id)) continue;
          const typeId = info.primary && st.assocOfType.all(hubId, type, survivor.id, toType, a.type_id).length > 0 ? info.unlabeledTypeId : a.type_id;
          storeAssociation(hubId, type, survivor.id, toType, a.to_id, typeId);
        }
        st.assocDeleteFrom.run(hubId, type, loser.id);
        st.assocDeleteTo.run(hubId, type, loser.id);
        st.markMerged.run(at, hubId, type, loser.id);
        st.repointMerges.run(survivor.id, hubId, type, loser.id);
        st.addMerge.run(hubId, type, loser.id, survivor.id);
      })();
      emit([{ hubId, kind: 'merge', type, id: survivorId, mergedIds: [loserId], propertiesMoved: moved, at, source: 'admin' }]);
    },
    purge(hubId, type, id) {
      const row = requireRow(hubId, type, id);
      db.transaction(() => {
        st.assocDeleteFrom.run(hubId, type, row.id);
        st.assocDeleteTo.run(hubId, type, row.id);
        st.deleteObject.run(hubId, type, row.id);
      })();
      // GDPR deletion: the record is gone for good, and HubSpot tells apps by contact.privacyDeletion
      // (https://developers.hubspot.com/docs/api/webhooks, subscription types)
      emit([{ hubId, kind: type === 'contacts' ? 'privacyDeletion' : 'deletion', type, id, at: clock.now(), source: 'admin' }]);
    },
    load(hubId, batch: GeneratedBatch) {
      db.transaction(() => {
        for (const o of batch.objects) {
          const id = requireNumericId(o.id, `load ${o.type}`);
          st.insert.run(hubId, o.type, id, JSON.stringify(stripSystem(o.properties)), o.createdAt, o.updatedAt, o.archived ? 1 : 0, o.archived ? o.updatedAt : null);
        }
        for (const a of batch.associations) {
          const [fromId, toId] = [requireNumericId(a.fromId, 'load association'), requireNumericId(a.toId, 'load association')];
          // as associate() (HubSpot associates existing records only): every association row names
          // two stored objects, which associationRowsOf relies on
          for (const [type, id] of [[a.fromType, fromId], [a.toType, toId]] as const) {
            if (st.exists.get(hubId, type, id) === undefined) throw new RangeError(`load association: no ${type} with id ${id} in portal ${hubId}`);
          }
          storeAssociation(hubId, a.fromType, fromId, a.toType, toId, a.typeId);
        }
      })();
    },
    get(hubId, type, id) {
      const row = getRow(hubId, type, id);
      if (row === undefined) return undefined;
      const { archivedAt: _archivedAt, createdIso: _c, updatedIso: _u, ...obj } = rowToObject(type, row);
      return obj;
    },
    getStored(hubId, type, id, archived) {
      const row = getRow(hubId, type, id);
      if (row === undefined) return undefined;
      if (row.archived === 2) {
        // a merged-away id answers with the record it was merged into (docs/install-hubspot.md "Merges"; https://knowledge.hubspot.com/records/merge-records)
        const survivor = st.survivorOf.get(hubId, type, row.id);
        return survivor === undefined || archived === true ? undefined : storage.getStored(hubId, type, String(survivor.survivor_id), archived);
      }
      if (archived !== undefined && (row.archived === 1) !== archived) return undefined;
      return rowToObject(type, row);
    },
    listPage(hubId, type, { archived, afterId, limit }) {
      return rowsToObjects(type, st.list.all(hubId, type, archived ? 1 : 0, afterId, limit));
    },
    *iterate(hubId, type, opts = {}) {
      let after = -1;
      for (;;) {
        const rows = st.list.all(hubId, type, opts.archived === true ? 1 : 0, after, CHUNK);
        for (const r of rows) {
          const { archivedAt: _a, createdIso: _c, updatedIso: _u, ...obj } = rowToObject(type, r);
          yield obj;
        }
        const last = rows.at(-1);
        if (last === undefined || rows.length < CHUNK) return;
        after = last.id;
      }
    },
    *scan(hubId, type, { orderBy, descending, conditions }) {
      const w = where(conditions);
      const dir = descending ? 'DESC' : 'ASC';
      const cmp = descending ? '<' : '>';
      const keyset = orderBy === 'id' ? `id ${cmp} ?` : `(${orderBy} ${cmp} ? OR (${orderBy} = ? AND id ${cmp} ?))`;
      const base = `SELECT id, properties, created_at, updated_at, archived, archived_at FROM objects WHERE hub_id = ? AND type = ? AND archived = 0${w.sql}`;
      const order = orderBy === 'id' ? ` ORDER BY id ${dir}` : ` ORDER BY ${orderBy} ${dir}, id ${dir}`;
      const first = db.prepare<unknown[], ObjectRow>(`${base}${order} LIMIT ${CHUNK}`);
      const next = db.prepare<unknown[], ObjectRow>(`${base} AND ${keyset}${order} LIMIT ${CHUNK}`);
      let rows = first.all(hubId, type, ...w.params);
      for (;;) {
        for (const r of rows) yield rowToObject(type, r);
        const last = rows.at(-1);
        if (last === undefined || rows.length < CHUNK) return;
        const key = orderBy === 'id' ? [last.id] : [last[orderBy], last[orderBy], last.id];
        rows = next.all(hubId, type, ...w.params, ...key);
      }
    },
    countWhere(hubId, type, conditions) {
      const w = where(conditions);
      const row = db.prepare<unknown[], { n: number }>(`SELECT COUNT(*) AS n FROM objects WHERE hub_id = ? AND type = ? AND archived = 0${w.sql}`).get(hubId, type, ...w.params);
      return row?.n ?? 0;
    },
    pageWhere(hubId, type, { orderBy, descending, conditions, offset, limit }) {
      const w = where(conditions);
      const dir = descending ? 'DESC' : 'ASC';
      const order = orderBy === 'id' ? `id ${dir}` : `${orderBy} ${dir}, id ${dir}`;
      const rows = db
        .prepare<unknown[], ObjectRow>(
          `SELECT id, properties, created_at, updated_at, archived, archived_at FROM objects WHERE hub_id = ? AND type = ? AND archived = 0${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`,
        )
        .all(hubId, type, ...w.params, limit, offset);
      return rowsToObjects(type, rows);
    },
    associationsOf(hubId, type, id, toType) {
      const n = toNumericId(id);
      if (n === undefined) return [];
      return st.assocIds.all(hubId, type, n, toType).map((r) => String(r.to_id));
    },
    associationRows(hubId, fromType, fromId, toType, afterToId, limit) {
      const n = toNumericId(fromId);
      if (n === undefined) return [];
      return st.assocRows.all(hubId, fromType, n, toType, afterToId, limit).map((r) => ({
        toId: r.to_id,
        typeKeys: r.type_ids.split(',').map(Number).sort((a, b) => a - b),
      }));
    },
    associationRowsOf(hubId, fromType, fromIds, toType, limit) {
      const out = new Map<string, Array<{ toId: number; typeKeys: number[] }>>();
      const numeric = fromIds.map(toNumericId).filter((n) => n !== undefined);
      if (numeric.length === 0) return out;
      // ordered by from, to, type: each object's first `limit` associated records, each with its labels
      let rows: Array<{ toId: number; typeKeys: number[] }> = [];
      let fromId: number | undefined;
      const ids = new Set(numeric);
      const found = st.assocRowsOf.all(hubId, fromType, Math.min(...numeric), Math.max(...numeric), toType).filter((r) => ids.has(r[0]));
      const archived = found.length > 0 && st.anyArchived.get(hubId, toType) !== undefined
        ? new Set(st.archivedAmong.all(hubId, toType, JSON.stringify([...new Set(found.map((r) => r[1]))])).map((r) => r[0]))
        : undefined;
      for (const [from, to, typeKey] of found) {
        if (archived?.has(to) === true) continue;
        if (from !== fromId) out.set(String((fromId = from)), (rows = []));
        const last = rows.at(-1);
        if (last?.toId === to) last.typeKeys.push(typeKey);
        else if (rows.length < limit) rows.push({ toId: to, typeKeys: [typeKey] });
      }
      return out;
    },
    count(hubId, type, opts = {}) {
      return st.count.get(hubId, type, opts.archived === true ? 1 : 0)?.n ?? 0;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    customDefinitions(hubId, type) {
      return st.defs.all(hubId, type).map((r) => JSON.parse(r.definition) as PropertyDefinition);
    },
    saveDefinition(hubId, type, def) {
      st.saveDef.run(hubId, type, def.name, JSON.stringify(def));
    },
    customGroups(hubId, type) {
      return st.groups.all(hubId, type).map((r) => JSON.parse(r.grp) as PropertyGroup);
    },
    saveGroup(hubId, type, group) {
      st.saveGroup.run(hubId, type, group.name, JSON.stringify(group));
    },
    close() {
      if (db.open) db.close();
    },
  };
  return storage;
}

export type { AssociationInput };
