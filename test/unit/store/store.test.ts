import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { DatabaseFromFutureError } from '../../../src/errors.ts';
import { migrate, openDatabase, SCHEMA_VERSION } from '../../../src/store/db.ts';
import { MIGRATIONS } from '../../../src/store/migrations.ts';
import { createStore, openStore, type StoreLocation } from '../../../src/store/index.ts';
import { createStoreOn } from '../../../src/store/sqlite.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir>;
afterEach(() => dir.cleanup());
const key = Buffer.alloc(32, 7);

function contact(id: string, updatedAt: number, extra: Partial<CrmRecord> = {}): CrmRecord {
  return {
    portal: 'hubspot:1',
    type: 'contacts',
    id,
    contactIds: undefined,
    companyId: null,
    updatedAt,
    deleted: false,
    data: { email: `${id}@x.io`, emailRaw: `${id}@x.io`, phone: null, phoneRaw: null, firstName: 'A', lastName: 'B', createdAt: 1, lifecycleStage: null },
    ...extra,
  };
}

/** SQLite specifics; the behaviour every store must have is test/contract/store-contract.ts. */
describe('SQLite store', () => {
  it('migrates an empty file to the current version with STRICT tables in WAL mode', () => {
    dir = tempDir();
    const db = openDatabase(join(dir.path, 'sub', 'r.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table'").all() as { name: string; sql: string }[];
    expect(tables.map((t) => t.name).sort()).toEqual(
      ['api_usage', 'associations', 'cursors', 'dirty_contacts', 'models', 'outbox', 'portals', 'records', 'score_history', 'scores', 'settings', 'sync_runs', 'tokens', 'unscored_portals', 'webhook_events', 'written'].sort(),
    );
    for (const t of tables) {
      expect(t.sql, t.name).toMatch(/STRICT/);
      // settings are the installation's (the encryption key check), not a portal's
      if (t.name !== 'settings') expect(t.sql, t.name).toMatch(/portal TEXT/);
    }
    db.close();
  });

  it('applies migrations in order, one at a time, and is idempotent', () => {
    const db = new Database(':memory:');
    const steps = ['CREATE TABLE a (x INTEGER) STRICT', 'ALTER TABLE a ADD COLUMN y TEXT'];
    expect(migrate(db, ':memory:', steps.slice(0, 1))).toBe(1);
    db.prepare('INSERT INTO a (x) VALUES (1)').run();
    expect(migrate(db, ':memory:', steps)).toBe(2);
    expect(migrate(db, ':memory:', steps)).toBe(2);
    expect(db.prepare('SELECT x, y FROM a').all()).toEqual([{ x: 1, y: null }]);
  });

  it('upgrades a version-1 database in place, keeping its rows', async () => {
    dir = tempDir();
    const path = join(dir.path, 'old.db');
    const old = new Database(path);
    migrate(old, path, MIGRATIONS.slice(0, 1));
    old.prepare("INSERT INTO cursors (portal, stream, cursor, updated_at) VALUES ('hubspot:1', 'contacts', 'c1', 5)").run();
    old.close();
    const db = openDatabase(path);
    const store = createStoreOn(db, { now: () => 120_000 });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await store.cursors.get('hubspot:1', 'contacts')).toBe('c1');
    await store.apiUsage.record('hubspot:1', 7, 1);
    await store.apiUsage.record('hubspot:1', 3, 0);
    expect(await store.apiUsage.since('hubspot:1', 600_000)).toEqual({ calls: 10, rateLimited: 1, peakPerMinute: 10 });
    await store.close();
  });

  it('upgrades a version-3 database: models already stored are kept, history rows get a NULL model version', async () => {
    dir = tempDir();
    const path = join(dir.path, 'v3.db');
    const old = new Database(path);
    migrate(old, path, MIGRATIONS.slice(0, 3));
    old.prepare("INSERT INTO models (portal, kind, version, trained_at, params, metrics) VALUES ('hubspot:1', 'churn', 'm20260101T0000', 5, '{}', '{\"auc\":0.8}')").run();
    old.prepare("INSERT INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health) VALUES ('hubspot:1', 'c1', 5, 1, 2, 3, 4, 'red')").run();
    old.close();
    const db = openDatabase(path);
    const store = createStoreOn(db);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await store.models.latest('hubspot:1', 'churn')).toMatchObject({ version: 'm20260101T0000', metrics: { auc: 0.8 } });
    expect(await store.scores.history('hubspot:1', 'c1', 0)).toEqual([
      { scoredAt: 5, satisfaction: 1, loyalty: 2, churnRisk: 3, serviceNeed: 4, health: 'red', modelVersion: null },
    ]);
    await store.close();
  });

  it('a failing migration leaves the previous version intact', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, ':memory:', ['CREATE TABLE a (x INTEGER) STRICT', 'CREATE TABLE broken ('])).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
  });

  it('refuses a database written by a newer Rapport, with a clear message', () => {
    dir = tempDir();
    const path = join(dir.path, 'future.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    raw.close();
    expect(() => openDatabase(path)).toThrow(DatabaseFromFutureError);
    expect(() => openDatabase(path)).toThrow(/newer Rapport.*upgrade Rapport/);
  });

  it('never holds tokens in clear in the file', async () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const token = 'pat-na1-11111111-2222-3333-4444-555555555555';
    const refresh = 'refresh-abcdefabcdef-0123456789';
    const store = createStore({ path, encryptionKey: key });
    await store.portals.install({ portal: 'hubspot:42', crm: 'hubspot', externalId: '42', baseUrl: 'http://x', scopes: [] }, { accessToken: token, refreshToken: refresh, expiresAt: 123 });
    expect(await store.portals.tokens('hubspot:42')).toEqual({ accessToken: token, refreshToken: refresh, expiresAt: 123 });
    await store.close(); // the last connection checkpoints the WAL into the file
    const bytes = readFileSync(path);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(refresh))).toBe(false);
  });

  it('a worker opens the store at its location read-only: it reads, never writes', async () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const store = createStore({ path });
    await store.records.upsertPage([contact('1', 100)]);
    expect(store.location).toEqual({ kind: 'sqlite', path });
    const reader = openStore(JSON.parse(JSON.stringify(store.location)) as StoreLocation, { readonly: true });
    expect((await reader.contacts.chunk('hubspot:1', {}, 10)).map((c) => c.id)).toEqual(['1']);
    await expect(reader.records.upsertPage([contact('2', 100)])).rejects.toThrow(/readonly/i);
    await reader.close();
    await store.close();
    // a location without a database is an error, not a new empty file
    expect(() => openStore({ kind: 'sqlite', path: join(dir.path, 'missing.db') }, { readonly: true })).toThrow();
  });
});
