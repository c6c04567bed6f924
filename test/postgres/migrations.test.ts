import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { RecordData } from '../../src/connectors/types.ts';
import { DatabaseError, DatabaseFromFutureError } from '../../src/errors.ts';
import { createStore } from '../../src/store/index.ts';
import { SCHEMA_VERSION } from '../../src/store/migrations.ts';
import { migrate, PG_MIGRATIONS, PG_ONLY_COLUMNS, PG_SCHEMA_VERSION, PostgresSchemaFromFutureError, requireServerVersion } from '../../src/store/postgres/migrations.ts';
import { createPool, type Pool } from '../../src/store/postgres/pool.ts';
import { openPostgresStore } from '../../src/store/postgres/store.ts';
import { createDatabase } from '../support/postgres.ts';

const pools: Pool[] = [];
const open = (url: string) => {
  const pool = createPool(url, { max: 2 });
  pools.push(pool);
  return pool;
};
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

let url: string;
let pool: Pool;
beforeEach(async () => {
  url = await createDatabase(inject('postgresUrl'));
  pool = open(url);
});

const versions = async (p: Pool) => (await p.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version);
const tables = async (p: Pool) =>
  (await p.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")).rows.map((r) => r.t);

describe('Postgres migrations', () => {
  it('apply on an empty database, once; a second run is a no-op', async () => {
    expect(await migrate(pool, url)).toEqual({ from: 0, to: PG_SCHEMA_VERSION });
    expect(await versions(pool)).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1));
    const before = (await pool.query('SELECT version, applied_at FROM schema_version ORDER BY version')).rows;
    const created = await tables(pool);
    expect(created).toContain('records');

    expect(await migrate(pool, url)).toEqual({ from: PG_SCHEMA_VERSION, to: PG_SCHEMA_VERSION });
    expect((await pool.query('SELECT version, applied_at FROM schema_version ORDER BY version')).rows).toEqual(before);
    expect(await tables(pool)).toEqual(created);
  });

  it('4 processes starting together apply each migration once (advisory lock)', async () => {
    // a slow second migration keeps the first caller inside the lock while the others arrive
    const migrations = [...PG_MIGRATIONS, 'SELECT pg_sleep(0.3); CREATE TABLE later (id INTEGER PRIMARY KEY)'];
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(open(url), url, migrations)));
    expect(results.filter((r) => r.from === 0)).toHaveLength(1);
    expect(results.filter((r) => r.from === migrations.length)).toHaveLength(3);
    expect(await versions(pool)).toEqual(migrations.map((_, i) => i + 1));
  });

  it('follow SQLite: any provider name as a CRM (2 = SQLite 6), score fields renamed in pending and written values (3 = SQLite 7)', async () => {
    expect(PG_SCHEMA_VERSION).toBe(SCHEMA_VERSION - 4 + 3); // Postgres entry 1 is SQLite 1-5; entries 4, 5 and 7 are Postgres' own; 6 = SQLite 8
    await migrate(pool, url, PG_MIGRATIONS.slice(0, 2));
    const portal = (crm: string) =>
      pool.query("INSERT INTO portals (portal, crm, external_id, base_url, status, installed_at, updated_at) VALUES ($1, $2, '1', 'http://x', 'connected', 0, 0)", [`${crm}:1`, crm]);
    await portal('acme');
    await expect(portal('Acme')).rejects.toThrow(/portals_crm_check/);
    await pool.query(
      "INSERT INTO outbox (portal, contact_id, properties, enqueued_at, next_attempt_at) VALUES ('acme:1', 'c1', $1, 0, 0)",
      [JSON.stringify({ satisfaction: '70', churn_risk: '12', service_need: '40', scored_at: 't', model_version: 'm1' })],
    );
    await pool.query("INSERT INTO written (portal, contact_id, properties, written_at) VALUES ('acme:1', 'c1', $1, 0)", [JSON.stringify({ churn_risk: '10' })]);
    expect(await migrate(pool, url, PG_MIGRATIONS.slice(0, 3))).toEqual({ from: 2, to: 3 });
    expect((await pool.query('SELECT properties FROM outbox')).rows[0]?.properties).toEqual({ satisfaction: '70', churnRisk: '12', serviceNeed: '40', scoredAt: 't', modelVersion: 'm1' });
    expect((await pool.query('SELECT properties FROM written')).rows[0]?.properties).toEqual({ churnRisk: '10' });
  });

  it('5 keeps score details as JSON text: a JSONB detail written before it reads back the same through the store', async () => {
    await migrate(pool, url, PG_MIGRATIONS.slice(0, 4));
    const detail = { satisfaction: { value: 70, band: 'green', confidence: 0.8, reasons: [{ text: 'Quick replies', impact: 4 }] }, extra: { rfm: { r: 1 }, clv: 12.5 } };
    await pool.query(
      "INSERT INTO scores (portal, contact_id, satisfaction, loyalty, churn_risk, service_need, health, confidence, detail, model_version, scored_at) VALUES ('hubspot:1', 'c1', 70, 50, 20, 30, 'green', 0.8, $1::jsonb, 'm1', 5)",
      [JSON.stringify(detail)],
    );
    expect(await migrate(pool, url)).toEqual({ from: 4, to: PG_SCHEMA_VERSION });
    const type = await pool.query<{ t: string }>("SELECT data_type AS t FROM information_schema.columns WHERE table_name = 'scores' AND column_name = 'detail'");
    expect(type.rows[0]?.t).toBe('json');
    const store = await openPostgresStore({ url });
    try {
      expect(await store.scores.get('hubspot:1', 'c1')).toMatchObject({ contactId: 'c1', satisfaction: detail.satisfaction, extra: detail.extra, health: 'green' });
      expect(await store.scores.clv('hubspot:1')).toEqual({ n: 1, mean: 12.5 });
      expect((await store.scores.bandCounts('hubspot:1')).scores.satisfaction).toEqual({ green: 1, yellow: 0, red: 0 });
    } finally {
      await store.close();
    }
  });

  it('7 keeps record data as JSON text: a record written as JSONB before it reads back the same, and re-sent unchanged changes nothing', async () => {
    await migrate(pool, url, PG_MIGRATIONS.slice(0, 6));
    const data = { email: 'c1@x.io', firstName: 'A', lastName: 'B', createdAt: 5, lifecycleStage: 'customer' };
    await pool.query(
      "INSERT INTO records (portal, type, id, company_id, updated_at, deleted, data, synced_at) VALUES ('hubspot:1', 'contacts', 'c1', NULL, 10, false, $1::jsonb, 10)",
      [JSON.stringify({ d: data })],
    );
    expect(await migrate(pool, url)).toEqual({ from: 6, to: PG_SCHEMA_VERSION });
    const type = await pool.query<{ t: string }>("SELECT data_type AS t FROM information_schema.columns WHERE table_name = 'records' AND column_name = 'data'");
    expect(type.rows[0]?.t).toBe('json');
    // JSONB printed the object its own way (keys by length, a space after each colon): the text differs from what a page sends
    const stored = (await pool.query<{ t: string }>("SELECT data::text AS t FROM records WHERE id = 'c1'")).rows[0]?.t;
    expect(stored).not.toBe(JSON.stringify({ d: data }));
    const store = await openPostgresStore({ url });
    try {
      expect((await store.records.get('hubspot:1', 'contacts', 'c1'))?.data).toEqual(data);
      const record = { portal: 'hubspot:1', type: 'contacts' as const, id: 'c1', contactIds: undefined, companyId: null, updatedAt: 10, deleted: false, data: data as unknown as RecordData };
      // the same content at the same time: compared as JSONB, equal, so no change and no dirty mark
      expect(await store.records.upsertPage([record])).toBe(0);
      expect(await store.dirty.count('hubspot:1')).toBe(0);
      expect(await store.contacts.count('hubspot:1', { createdBy: 5 })).toBe(1);
      expect(await store.contacts.count('hubspot:1', { createdBy: 4 })).toBe(0);
      // new content at the same time is a change
      expect(await store.records.upsertPage([{ ...record, data: { ...data, firstName: 'Ann' } as unknown as RecordData }])).toBe(1);
      expect(await store.dirty.count('hubspot:1')).toBe(1);
      expect((await store.records.get('hubspot:1', 'contacts', 'c1'))?.data).toMatchObject({ firstName: 'Ann' });
    } finally {
      await store.close();
    }
  });

  it('refuses a server older than PostgreSQL 18 with a clear error, before changing anything', () => {
    expect(() => requireServerVersion(180_004, url)).not.toThrow();
    const err = (() => {
      try {
        requireServerVersion(170_005, url);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DatabaseError);
    expect(err).toMatchObject({ code: 'server_too_old', details: { found: 170_005, required: 180_000 } });
    expect((err as Error).message).toContain('version 17; Rapport needs PostgreSQL 18 or later');
    expect((err as Error).message).not.toContain(new URL(url).password);
  });

  it('refuses a database migrated by a newer Rapport, without changing it', async () => {
    await migrate(pool, url);
    await pool.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)', [PG_SCHEMA_VERSION + 1]);
    const created = await tables(pool);

    const err = await migrate(pool, url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PostgresSchemaFromFutureError);
    // the CLI's existing handler (exit code `database`) catches it
    expect(err).toBeInstanceOf(DatabaseFromFutureError);
    expect(err).toMatchObject({ code: 'schema_from_future', found: PG_SCHEMA_VERSION + 1, supported: PG_SCHEMA_VERSION });
    const password = new URL(url).password;
    expect(password).not.toBe('');
    expect((err as Error).message).not.toContain(password);
    expect((err as Error).message).toContain('RAPPORT_DATABASE_URL');
    expect(await tables(pool)).toEqual(created);
  });

  it('a failing migration is rolled back, keeps the version it had, and releases the lock', async () => {
    const broken = ['CREATE TABLE one (id INTEGER PRIMARY KEY)', 'CREATE TABLE two (id INTEGER PRIMARY KEY); SELECT 1 / 0'];
    await expect(migrate(pool, url, broken)).rejects.toMatchObject({ code: '22012' }); // division_by_zero
    expect(await versions(pool)).toEqual([1]);
    expect(await tables(pool)).toEqual(['one', 'schema_version']);
    // another process is not left waiting on the lock of the failed one
    const fixed = [broken[0]!, 'CREATE TABLE two (id INTEGER PRIMARY KEY)'];
    expect(await migrate(open(url), url, fixed)).toEqual({ from: 1, to: 2 });
  });
});

describe('the Postgres schema matches the SQLite one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rapport-pg-schema-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  type Column = { name: string; type: string; nullable: boolean };
  type Table = { columns: Column[]; primaryKey: string[] };
  type Index = { table: string; columns: string[] };

  const sqliteSchema = async () => {
    const path = join(dir, `s-${Math.random()}.db`);
    await createStore({ path }).close(); // creates and migrates the file
    const db = new Database(path, { readonly: true });
    try {
      const names = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
      const tablesOut = new Map<string, Table>();
      const indexes = new Map<string, Index>();
      for (const { name } of names) {
        const info = db.prepare<[], { name: string; type: string; notnull: number; pk: number }>(`SELECT * FROM pragma_table_info('${name}')`).all();
        tablesOut.set(name, {
          // SQLite lets a non-INTEGER primary key column hold NULL unless declared NOT NULL; Postgres never does
          columns: info.map((c) => ({ name: c.name, type: c.type, nullable: c.notnull === 0 && c.pk === 0 })),
          primaryKey: info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
        });
        for (const ix of db.prepare<[], { name: string; origin: string }>(`SELECT name, origin FROM pragma_index_list('${name}')`).all()) {
          if (ix.origin !== 'c') continue; // 'pk' and 'u' are the primary key's own
          const cols = db.prepare<[], { name: string }>(`SELECT name FROM pragma_index_info('${ix.name}') ORDER BY seqno`).all();
          indexes.set(ix.name, { table: name, columns: cols.map((c) => c.name) });
        }
      }
      return { tables: tablesOut, indexes };
    } finally {
      db.close();
    }
  };

  const postgresSchema = async (p: Pool) => {
    const cols = await p.query<{ table_name: string; column_name: string; data_type: string; is_nullable: 'YES' | 'NO' }>(
      'SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position',
    );
    const tablesOut = new Map<string, Table>();
    for (const c of cols.rows) {
      const t = tablesOut.get(c.table_name) ?? { columns: [], primaryKey: [] };
      t.columns.push({ name: c.column_name, type: c.data_type, nullable: c.is_nullable === 'YES' });
      tablesOut.set(c.table_name, t);
    }
    const ix = await p.query<{ name: string; table: string; columns: string[]; primary: boolean }>(
      `SELECT i.relname AS name, t.relname AS table, x.indisprimary AS primary,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = current_schema()
        GROUP BY i.relname, t.relname, x.indisprimary`,
    );
    const indexes = new Map<string, Index>();
    for (const r of ix.rows) {
      if (r.primary) tablesOut.get(r.table)!.primaryKey = r.columns;
      else indexes.set(r.name, { table: r.table, columns: r.columns });
    }
    return { tables: tablesOut, indexes };
  };

  // SQLite declared type → the Postgres types that may stand for it
  const COMPATIBLE: Record<string, readonly string[]> = {
    TEXT: ['text', 'jsonb', 'json'],
    INTEGER: ['bigint', 'integer', 'boolean'],
    REAL: ['double precision'],
    BLOB: ['bytea'],
  };

  it('has every SQLite table with the same columns, nullability, types and primary key, and the same indexes', async () => {
    await migrate(pool, url);
    const lite = await sqliteSchema();
    const pgs = await postgresSchema(pool);

    expect([...pgs.tables.keys()].sort()).toEqual([...lite.tables.keys(), 'schema_version'].sort());
    for (const [name, t] of lite.tables) {
      const p = pgs.tables.get(name)!;
      // a Postgres-only column stands for something SQLite has built in (PG_ONLY_COLUMNS says what)
      p.columns = p.columns.filter((c) => !(PG_ONLY_COLUMNS[name] ?? []).includes(c.name));
      expect(p.columns.map((c) => c.name), name).toEqual(t.columns.map((c) => c.name));
      expect(p.primaryKey, `${name} primary key`).toEqual(t.primaryKey);
      for (const [i, c] of t.columns.entries()) {
        const pc = p.columns[i]!;
        expect(pc.nullable, `${name}.${c.name} nullable`).toBe(c.nullable);
        expect(COMPATIBLE[c.type], `${name}.${c.name}: SQLite ${c.type} as Postgres ${pc.type}`).toContain(pc.type);
      }
    }
    expect(Object.fromEntries(pgs.indexes)).toEqual(Object.fromEntries(lite.indexes));
  });

  it('keys every table but settings by portal', async () => {
    await migrate(pool, url);
    const pgs = await postgresSchema(pool);
    const unkeyed = [...pgs.tables].filter(([, t]) => !t.columns.some((c) => c.name === 'portal')).map(([n]) => n);
    expect(unkeyed.sort()).toEqual(['schema_version', 'settings']);
  });
});
