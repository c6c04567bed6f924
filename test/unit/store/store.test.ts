import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { DatabaseFromFutureError } from '../../../src/errors.ts';
import { migrate, openDatabase, SCHEMA_VERSION } from '../../../src/store/db.ts';
import { MIGRATIONS } from '../../../src/store/migrations.ts';
import { createStore } from '../../../src/store/index.ts';
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

describe('store', () => {
  it('migrates an empty file to the current version with STRICT tables in WAL mode', () => {
    dir = tempDir();
    const db = openDatabase(join(dir.path, 'sub', 'r.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table'").all() as { name: string; sql: string }[];
    expect(tables.map((t) => t.name).sort()).toEqual(
      ['api_usage', 'associations', 'cursors', 'dirty_contacts', 'models', 'outbox', 'portals', 'records', 'score_history', 'scores', 'settings', 'sync_runs', 'tokens', 'webhook_events', 'written'].sort(),
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

  it('upgrades a version-1 database in place, keeping its rows', () => {
    dir = tempDir();
    const path = join(dir.path, 'old.db');
    const old = new Database(path);
    migrate(old, path, MIGRATIONS.slice(0, 1));
    old.prepare("INSERT INTO cursors (portal, stream, cursor, updated_at) VALUES ('hubspot:1', 'contacts', 'c1', 5)").run();
    old.close();
    const store = createStore({ path, now: () => 120_000 });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.cursors.get('hubspot:1', 'contacts')).toBe('c1');
    store.apiUsage.record('hubspot:1', 7, 1);
    store.apiUsage.record('hubspot:1', 3, 0);
    expect(store.apiUsage.since('hubspot:1', 600_000)).toEqual({ calls: 10, rateLimited: 1, peakPerMinute: 10 });
    store.close();
  });

  it('upgrades a version-3 database: models already stored are kept, history rows get a NULL model version', () => {
    dir = tempDir();
    const path = join(dir.path, 'v3.db');
    const old = new Database(path);
    migrate(old, path, MIGRATIONS.slice(0, 3));
    old.prepare("INSERT INTO models (portal, kind, version, trained_at, params, metrics) VALUES ('hubspot:1', 'churn', 'm20260101T0000', 5, '{}', '{\"auc\":0.8}')").run();
    old.prepare("INSERT INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health) VALUES ('hubspot:1', 'c1', 5, 1, 2, 3, 4, 'red')").run();
    old.close();
    const store = createStore({ path });
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(store.models.latest('hubspot:1', 'churn')).toMatchObject({ version: 'm20260101T0000', metrics: { auc: 0.8 } });
    expect(store.scores.history('hubspot:1', 'c1', 0)).toEqual([
      { scoredAt: 5, satisfaction: 1, loyalty: 2, churnRisk: 3, serviceNeed: 4, health: 'red', modelVersion: null },
    ]);
    store.close();
  });

  it('keeps every model version with its metrics; latest is the newest, ties broken by insertion', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'models.db') });
    const model = (version: string, trainedAt: number, auc: number) => ({ kind: 'churn', version, trainedAt, params: { v: version }, metrics: { auc } });
    store.models.save('hubspot:1', model('m1', 1000, 0.7));
    expect(store.models.unusedVersion('hubspot:1', 'm1')).toBe('m1-2');
    store.models.save('hubspot:1', model('m1-2', 1000, 0.75)); // same millisecond
    expect(store.models.unusedVersion('hubspot:1', 'm1')).toBe('m1-3');
    store.models.save('hubspot:1', model('m2', 2000, 0.8));
    expect(store.models.unusedVersion('hubspot:1', 'm3')).toBe('m3');
    expect(store.models.latest('hubspot:1', 'churn')?.version).toBe('m2');
    expect(store.models.versions('hubspot:1', 'churn').map((m) => [m.version, (m.metrics as { auc: number }).auc])).toEqual([
      ['m2', 0.8],
      ['m1-2', 0.75],
      ['m1', 0.7],
    ]);
    expect(store.models.get('hubspot:1', 'churn', 'm1')?.params).toEqual({ v: 'm1' });
    expect(store.models.get('hubspot:1', 'churn', 'nope')).toBeUndefined();
    // a version is never silently overwritten
    expect(() => store.models.save('hubspot:1', model('m1', 3000, 0.1))).toThrow(/UNIQUE/);
    expect(store.models.get('hubspot:1', 'churn', 'm1')?.metrics).toEqual({ auc: 0.7 });
    store.close();
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

  it('round-trips tokens encrypted: the raw file never holds them in clear', () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const token = 'pat-na1-11111111-2222-3333-4444-555555555555';
    const refresh = 'refresh-abcdefabcdef-0123456789';
    const store = createStore({ path, encryptionKey: key });
    store.portals.upsert({ portal: 'hubspot:42', crm: 'hubspot', externalId: '42', baseUrl: 'http://x', scopes: ['crm.objects.contacts.read'] });
    store.portals.saveTokens('hubspot:42', { accessToken: token, refreshToken: refresh, expiresAt: 123 });
    expect(store.portals.tokens('hubspot:42')).toEqual({ accessToken: token, refreshToken: refresh, expiresAt: 123 });
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    store.close();
    const bytes = readFileSync(path);
    expect(bytes.includes(Buffer.from(token))).toBe(false);
    expect(bytes.includes(Buffer.from(refresh))).toBe(false);
    // a wrong key cannot read them
    const other = createStore({ path, encryptionKey: Buffer.alloc(32, 9) });
    expect(() => other.portals.tokens('hubspot:42')).toThrow();
    other.close();
  });

  it('refuses to store tokens without an encryption key', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'http://x', scopes: [] });
    expect(() => store.portals.saveTokens('hubspot:1', { accessToken: 't', refreshToken: null, expiresAt: null })).toThrow(/RAPPORT_ENCRYPTION_KEY/);
    store.close();
  });

  it('upserts idempotently: older or identical records are ignored, newer ones win', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    expect(store.transaction(() => store.records.upsertPage([contact('1', 100), contact('2', 100)]))).toBe(2);
    expect(store.records.upsertPage([contact('1', 100)])).toBe(0);
    expect(store.records.upsertPage([contact('1', 50, { deleted: true })])).toBe(0);
    expect(store.records.get('hubspot:1', 'contacts', '1')?.deleted).toBe(false);
    expect(store.records.upsertPage([contact('1', 200, { deleted: true })])).toBe(1);
    expect(store.records.get('hubspot:1', 'contacts', '1')?.deleted).toBe(true);
    expect(store.records.counts('hubspot:1')).toEqual({ contacts: { live: 1, deleted: 1 } });
    store.close();
  });

  it('a re-listed record with the same modification time and a new primary company takes the new company', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    store.records.upsertPage([contact('1', 100, { companyId: 'co-1' })]);
    store.dirty.clear('hubspot:1', '1', Date.now());
    // HubSpot does not bump the modification time on an association change
    expect(store.records.upsertPage([contact('1', 100, { companyId: 'co-2' })])).toBe(1);
    expect(store.records.get('hubspot:1', 'contacts', '1')?.companyId).toBe('co-2');
    expect(store.dirty.peek('hubspot:1', 10)).toEqual(['1']);
    expect(store.records.upsertPage([contact('1', 100, { companyId: null })])).toBe(1);
    expect(store.records.get('hubspot:1', 'contacts', '1')?.companyId).toBeNull();
    expect(store.records.upsertPage([contact('1', 100, { companyId: null })])).toBe(0);
    store.close();
  });

  it('links records to contacts and marks every affected contact dirty', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    const call = (contactIds: string[], updatedAt: number): CrmRecord => ({
      portal: 'hubspot:1', type: 'calls', id: 'c1', contactIds, companyId: null, updatedAt, deleted: false,
      data: { at: 1, direction: 'inbound', durationMs: 1000, outcome: null, text: null, priority: null },
    });
    store.records.upsertPage([call(['10'], 1)]);
    expect(store.dirty.peek('hubspot:1', 10)).toEqual(['10']);
    expect(store.records.linkedToContact('hubspot:1', '10').map((r) => r.id)).toEqual(['c1']);
    store.dirty.clear('hubspot:1', '10', Date.now());
    // association moved without a modification-time bump (HubSpot does this): both contacts dirty
    store.records.upsertPage([call(['11'], 1)]);
    expect(store.dirty.peek('hubspot:1', 10).sort()).toEqual(['10', '11']);
    expect(store.records.linkedToContact('hubspot:1', '10')).toEqual([]);
    expect(store.records.linkedToContact('hubspot:1', '11').map((r) => r.id)).toEqual(['c1']);
    store.close();
  });

  it('a newer modification time with the same content (our own write-back) does not make a contact dirty', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    store.records.upsertPage([contact('1', 100)]);
    store.dirty.clear('hubspot:1', '1', Date.now());
    expect(store.records.upsertPage([contact('1', 200)])).toBe(1);
    expect(store.records.get('hubspot:1', 'contacts', '1')?.updatedAt).toBe(200);
    expect(store.dirty.count('hubspot:1')).toBe(0);
    // a real change does
    store.records.upsertPage([contact('1', 300, { data: { ...contact('1', 0).data, firstName: 'Changed' } })]);
    expect(store.dirty.peek('hubspot:1', 10)).toEqual(['1']);
    store.close();
  });

  it('a merge (survivor listing the loser in mergedIds) tombstones the loser pointing at the survivor and moves its links, history and pending writes', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    const P = 'hubspot:1';
    const call = (id: string, contactIds: string[]): CrmRecord => ({
      portal: P, type: 'calls', id, contactIds, companyId: null, updatedAt: 1, deleted: false,
      data: { at: 1, direction: 'inbound', durationMs: 1000, outcome: null, text: null, priority: null },
    });
    store.records.upsertPage([contact('10', 100), contact('20', 100), call('c1', ['20']), call('c2', ['10', '20'])]);
    store.db.prepare(
      `INSERT INTO score_history (portal, contact_id, scored_at, satisfaction, loyalty, churn_risk, service_need, health) VALUES (?, '20', 50, 1, 2, 3, 4, 'green')`,
    ).run(P);
    store.outbox.enqueue(P, '20', { health: 'red' });
    store.dirty.clear(P, '10', Date.now());
    store.dirty.clear(P, '20', Date.now());
    // HubSpot: the survivor is modified and lists the loser in hs_merged_object_ids
    expect(store.records.upsertPage([contact('10', 200, { mergedIds: ['20'] })])).toBeGreaterThan(0);
    const loser = store.records.get(P, 'contacts', '20');
    expect(loser).toMatchObject({ deleted: true, mergedInto: '10' });
    expect(store.records.linkedToContact(P, '10').map((r) => r.id).sort()).toEqual(['c1', 'c2']);
    expect(store.records.linkedToContact(P, '20')).toEqual([]);
    const history = store.db.prepare('SELECT contact_id FROM score_history WHERE portal = ?').all(P) as { contact_id: string }[];
    expect(history.map((h) => h.contact_id)).toEqual(['10']);
    // nothing is ever written to the merged id
    expect(store.outbox.due(P, 10).map((i) => i.contactId)).toEqual([]);
    expect(store.dirty.peek(P, 10)).toEqual(['10']);
    // idempotent: the same survivor page again changes nothing
    expect(store.records.upsertPage([contact('10', 200, { mergedIds: ['20'] })])).toBe(0);
    store.close();
  });

  it('outbox keeps only values that differ from what was last written', () => {
    dir = tempDir();
    let t = 1000;
    const store = createStore({ path: join(dir.path, 'r.db'), now: () => t });
    expect(store.outbox.enqueue('p', 'c', { a: '1', b: '2' })).toBe(2);
    const [item] = store.outbox.due('p', 10);
    expect(item).toEqual({ contactId: 'c', properties: { a: '1', b: '2' }, attempts: 0 });
    store.outbox.markWritten('p', item!);
    expect(store.outbox.due('p', 10)).toEqual([]);
    expect(store.outbox.enqueue('p', 'c', { a: '1', b: '3' })).toBe(1);
    expect(store.outbox.due('p', 10)[0]?.properties).toEqual({ b: '3' });
    // going back to the written value cancels the pending write
    expect(store.outbox.enqueue('p', 'c', { b: '2' })).toBe(0);
    expect(store.outbox.stats('p')).toEqual({ pending: 0, parked: 0 });
    // failures back off, then park with the reason visible
    store.outbox.enqueue('p', 'c', { a: '9' });
    const due = store.outbox.due('p', 10)[0]!;
    store.outbox.markFailed('p', due, 'PROPERTY_DOESNT_EXIST', { retryable: false, maxAttempts: 5 });
    expect(store.outbox.stats('p')).toEqual({ pending: 0, parked: 1 });
    expect(store.outbox.parked('p')[0]?.lastError).toBe('PROPERTY_DOESNT_EXIST');
    t += 1;
    store.close();
  });

  it('remembers webhook event ids so a replay is recognised', () => {
    dir = tempDir();
    const store = createStore({ path: join(dir.path, 'r.db') });
    expect(store.webhookEvents.remember('p', 'e1')).toBe(true);
    expect(store.webhookEvents.remember('p', 'e1')).toBe(false);
    expect(store.webhookEvents.remember('q', 'e1')).toBe(true);
    store.close();
  });
});
