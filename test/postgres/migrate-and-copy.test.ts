import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CrmRecord, Cursor, RecordData } from '../../src/connectors/types.ts';
import { createStore, type Store } from '../../src/store/index.ts';
import { copySqliteToPostgres } from '../../src/store/copy.ts';
import { SCHEMA_VERSION } from '../../src/store/migrations.ts';
import { PG_SCHEMA_VERSION } from '../../src/store/postgres/migrations.ts';
import { openPostgresStore } from '../../src/store/postgres/store.ts';
import { rapportChild, rapportInProcess } from '../support/cli.ts';
import { createDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/temp-dir.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());

const KEY = 'a'.repeat(64);
const query = async <R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql)).rows;
  } finally {
    await c.end();
  }
};

describe('rapport migrate', () => {
  it('4 processes started together on one database: each exits 0, the migrations are applied once', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const runs = await Promise.all(Array.from({ length: 4 }, () => rapportChild(['migrate', '--json'], { RAPPORT_DATABASE_URL: url }).done));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const reports = runs.map((r) => JSON.parse(r.stdout) as { store: string; from: number; to: number; applied: number; database: string });
    expect(reports.filter((r) => r.applied === PG_SCHEMA_VERSION)).toHaveLength(1);
    expect(reports.filter((r) => r.applied === 0)).toHaveLength(3);
    for (const r of reports) expect(r).toMatchObject({ store: 'postgres', to: PG_SCHEMA_VERSION });
    // the URL is shown without its password
    expect(reports[0]?.database).toContain(':***@');
    expect((await query<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version')).map((r) => r.version)).toEqual(
      Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1),
    );
  }, 60_000);

  it('creates or updates the SQLite file when RAPPORT_DATABASE_URL is not set', async () => {
    const db = join(dir.path, 'migrate.db');
    const first = await rapportInProcess(['migrate'], { RAPPORT_DB: db });
    expect(first).toMatchObject({ code: 0, stdout: `rapport migrate: ${db} migrated from schema version 0 to ${SCHEMA_VERSION}\n` });
    expect((await rapportInProcess(['migrate'], { RAPPORT_DB: db })).stdout).toBe(`rapport migrate: ${db} is at schema version ${SCHEMA_VERSION}; nothing to apply\n`);
  });

  it('an unreachable database or a newer schema: exit 7 with a clear message, never the password', async () => {
    const down = await rapportInProcess(['migrate'], { RAPPORT_DATABASE_URL: 'postgres://rapport:hunter2@127.0.0.1:1/rapport' });
    expect(down.code).toBe(7);
    expect(down.stderr).toMatch(/^rapport: cannot open the Postgres database postgres:\/\/rapport:\*\*\*@127\.0\.0\.1:1\/rapport \(RAPPORT_DATABASE_URL\): .*ECONNREFUSED/);
    expect(down.stderr).not.toContain('hunter2');
    // every command opens the store the same way
    expect((await rapportInProcess(['status'], { RAPPORT_DATABASE_URL: 'postgres://rapport:hunter2@127.0.0.1:1/rapport' })).code).toBe(7);

    const url = await createDatabase(inject('postgresUrl'));
    await rapportInProcess(['migrate'], { RAPPORT_DATABASE_URL: url });
    await query(url, `INSERT INTO schema_version (version, applied_at) VALUES (${PG_SCHEMA_VERSION + 1}, 0)`);
    const newer = await rapportInProcess(['migrate'], { RAPPORT_DATABASE_URL: url });
    expect(newer.code).toBe(7);
    expect(newer.stderr).toMatch(/only knows versions up to/);
  });
});

const P = 'hubspot:42';
const rec = (type: CrmRecord['type'], id: string, data: Record<string, unknown>, extra: Partial<CrmRecord> = {}): CrmRecord => ({
  portal: P,
  type,
  id,
  contactIds: undefined,
  companyId: null,
  updatedAt: 1_700_000_000_000,
  deleted: false,
  data: data as unknown as RecordData,
  ...extra,
});

/** A SQLite store with a row in every table, written through the port as Rapport writes them. */
async function filledSqlite(path: string): Promise<void> {
  let t = 1_700_000_000_000;
  const store = createStore({ path, encryptionKey: Buffer.from(KEY, 'hex'), now: () => t });
  try {
    await store.portals.install({ portal: P, crm: 'hubspot', externalId: '42', baseUrl: 'http://hub', scopes: ['crm.objects.contacts.read'] }, { accessToken: 'pat-secret', refreshToken: 'r-secret', expiresAt: 99 });
    expect(await store.portals.keyCheck()).toBe('current');
    // its first scoring pass started (and did not end): the pages below write dirty marks
    expect(await store.dirty.startFirstPass(P)).toBe(t);
    const run = await store.syncRuns.start(P, 'contacts');
    const contacts = Array.from({ length: 1200 }, (_, i) =>
      rec('contacts', `c${String(i).padStart(4, '0')}`, { email: `c${i}@x.io`, firstName: i === 7 ? 'Nul\u0000Byte' : 'Ann', nested: { b: 1, a: [1.5, null, 'x'] } }, { companyId: 'co1', deleted: i === 3 }),
    );
    await store.commitPage({ portal: P, stream: 'contacts', records: [rec('companies', 'co1', { name: 'Acme', employees: 12 }), ...contacts], cursor: 'cur-1' as Cursor, run: { id: run, pages: 1, records: 1201 } });
    await store.records.upsertPage([rec('calls', 'k1', { at: 1, direction: 'inbound' }, { contactIds: ['c0001', 'c0002'] })]);
    await store.syncRuns.finish(run, 'ok');
    const scores = (id: string, v: number) => ({
      contactId: id,
      satisfaction: { value: v + 0.25, band: 'green' as const, confidence: 0.5, reasons: [{ text: 'because', impact: 3 }] },
      loyalty: { value: v, band: 'yellow' as const, confidence: 0.5, reasons: [] },
      churnRisk: { value: 100 - v, band: 'red' as const, confidence: 0.5, reasons: [] },
      serviceNeed: { value: v / 3, band: 'green' as const, confidence: 0.5, reasons: [] },
      health: 'yellow' as const,
      confidence: 0.5,
      modelVersion: 'm1',
      scoredAt: t,
      extra: { clv: 12.5, rfm: { r: 1 } },
    });
    const batch = ['c0001', 'c0002', 'c0005'].map((id, i) => ({ scores: scores(id, 40 + i), properties: { health: 'yellow', churnRisk: String(60 - i) } }));
    await store.saveScores(P, batch, { clearIds: ['c0001'], readAt: t, volatile: ['scoredAt'] });
    const [first] = await store.outbox.due(P, 1);
    await store.outbox.settle(P, { written: [first!], failed: [] }, { maxAttempts: 3 });
    t += 1000;
    await store.models.saveAll(P, [
      { kind: 'churn', version: 'v1', trainedAt: 5, params: { w: [0.1, -2] }, metrics: { auc: 0.8 } },
      { kind: 'churn', version: 'v1-2', trainedAt: 5, params: {}, metrics: {} },
    ]);
    await store.webhookEvents.rememberAll([{ portal: P, eventId: 'e1' }]);
    await store.apiUsage.record(P, 10, 1);
  } finally {
    await store.close();
  }
}

/** What every reader of the store sees, read through the port. */
async function portView(store: Store) {
  const contacts = await store.contacts.chunk(P, {}, 5000);
  return {
    portals: await store.portals.list(),
    tokens: await store.portals.tokens(P),
    keyCheck: await store.portals.keyCheck(),
    counts: await store.records.counts(P),
    contacts,
    linked: await store.records.linkedToContact(P, 'c0001'),
    deleted: await store.records.get(P, 'contacts', 'c0003'),
    scores: await Promise.all(['c0001', 'c0002', 'c0005'].map((id) => store.scores.get(P, id))),
    history: await store.scores.history(P, 'c0002', 0),
    due: await store.outbox.due(P, 10),
    written: await store.outbox.lastWritten(P, 'c0001'),
    dirty: await store.dirty.count(P),
    cursors: await store.cursors.list(P),
    runs: await store.syncRuns.latestPerStream(P),
    latestModel: await store.models.latest(P, 'churn'),
    models: await store.models.versions(P, 'churn'),
    usage: await store.apiUsage.since(P, 3_600_000),
    bands: await store.scores.bandCounts(P),
  };
}

describe('rapport db copy', () => {
  it('copies every table of a SQLite cache into Postgres, verified; the Postgres store then reads the same through the port', async () => {
    const file = join(dir.path, 'copy.db');
    await filledSqlite(file);
    const url = await createDatabase(inject('postgresUrl'));
    const r = await rapportInProcess(['db', 'copy', '--from', file, '--to', url, '--json'], { RAPPORT_ENCRYPTION_KEY: KEY });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { tables: { table: string; rows: number; checksum: string }[]; to: string };
    expect(out.to).toContain(':***@');
    const rows = Object.fromEntries(out.tables.map((t) => [t.table, t.rows]));
    expect(rows).toMatchObject({ portals: 1, tokens: 1, settings: 1, records: 1202, associations: 2, scores: 3, score_history: 3, outbox: 2, written: 1, models: 2, sync_runs: 1, cursors: 1, dirty_contacts: 1199, unscored_portals: 1, webhook_events: 1, api_usage: 1 });

    const key = Buffer.from(KEY, 'hex');
    const lite = createStore({ path: file, encryptionKey: key, now: () => 1_700_000_001_000 });
    const pgs = await openPostgresStore({ url, encryptionKey: key, now: () => 1_700_000_001_000 });
    try {
      const want = await portView(lite);
      const got = await portView(pgs);
      // the one documented difference: JSONB cannot hold NUL, which becomes U+FFFD
      const nul = want.contacts.find((c) => c.id === 'c0007')!;
      nul.data = { ...nul.data, firstName: 'Nul\ufffdByte' } as RecordData;
      expect(got).toEqual(want);
      expect(got.tokens).toEqual({ accessToken: 'pat-secret', refreshToken: 'r-secret', expiresAt: 99 });
      expect(got.latestModel?.version).toBe('v1-2'); // same millisecond: the later insert, as in SQLite
      // the next sync run follows the copied ids
      expect(await pgs.syncRuns.start(P, 'deals')).toBeGreaterThan(got.runs[0]!.id);
    } finally {
      await lite.close();
      await pgs.close();
    }

    const again = await rapportInProcess(['db', 'copy', '--from', file, '--to', url], {});
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/^rapport: postgres:\/\/postgres:\*\*\*@.* already holds data \(.*records.*\): copy into an empty database/);
  }, 60_000);

  it('a copy that does not read back the same commits nothing and names the table (code copy_mismatch)', async () => {
    const file = join(dir.path, 'mismatch.db');
    await filledSqlite(file);
    const url = await createDatabase(inject('postgresUrl'));
    const err = await copySqliteToPostgres({
      from: file,
      to: url,
      beforeVerify: async (c) => {
        await c.query("UPDATE records SET data = jsonb_set(data::jsonb, '{d,firstName}', '\"Tampered\"')::json WHERE id = 'c0010'");
        await c.query("DELETE FROM written WHERE contact_id = 'c0001'");
      },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'copy_mismatch', message: expect.stringMatching(/records \(SQLite 1202 rows, Postgres 1202, checksums differ\), written \(SQLite 1 rows, Postgres 0\)/) });
    expect(await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM records')).toEqual([{ n: 0 }]);
    // nothing half-done: the same copy then succeeds
    expect((await copySqliteToPostgres({ from: file, to: url })).tables.find((t) => t.table === 'records')?.rows).toBe(1202);
  });

  it('refuses a missing source, a source at another schema version, and a missing target, each with a code', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    await expect(copySqliteToPostgres({ from: join(dir.path, 'nope.db'), to: url })).rejects.toMatchObject({ code: 'source_missing' });
    const old = join(dir.path, 'old.db');
    const db = new Database(old);
    db.pragma('user_version = 2');
    db.close();
    await expect(copySqliteToPostgres({ from: old, to: url })).rejects.toMatchObject({ code: 'source_schema', message: expect.stringMatching(/schema version 2.*open it once/) });
    const noTarget = await rapportInProcess(['db', 'copy', '--from', old], {});
    expect(noTarget.code).toBe(3);
    expect(noTarget.stderr).toMatch(/--to postgres:\/\/… or RAPPORT_DATABASE_URL/);
  });
});
