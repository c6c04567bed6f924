import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, redactUrl, withTransaction, type Pool } from '../../src/store/postgres/pool.ts';
import { createDatabase } from '../support/postgres.ts';

let url: string;
let pool: Pool;
beforeAll(async () => {
  url = await createDatabase(inject('postgresUrl'));
  pool = createPool(url, { max: 3, applicationName: 'rapport-test' });
  await pool.query('CREATE TABLE t (id INTEGER PRIMARY KEY, at BIGINT, data JSONB)');
});
afterAll(() => pool.end());

describe('createPool', () => {
  it('refuses what is not a postgres:// URL, without echoing a password', () => {
    expect(() => createPool('./data/rapport.db')).toThrow(/not a database URL/);
    expect(() => createPool('mysql://u:hunter2@localhost/db')).toThrow(/postgres:\/\/ or postgresql:\/\/, not mysql:/);
    expect(() => createPool('mysql://u:hunter2@localhost/db')).not.toThrow(/hunter2/);
    expect(redactUrl('postgres://u:hunter2@localhost:5432/db')).toBe('postgres://u:***@localhost:5432/db');
  });

  it('names its connections and returns BIGINT as numbers and JSONB as values', async () => {
    const { rows } = await pool.query<{ app: string }>('SELECT current_setting($1) AS app', ['application_name']);
    expect(rows[0]!.app).toBe('rapport-test');
    await pool.query('INSERT INTO t VALUES (1, $1, $2)', [1_767_225_600_123, JSON.stringify({ d: { email: 'a@b.c' }, i: ['x'] })]);
    const r = await pool.query<{ at: number; data: unknown }>('SELECT at, data FROM t WHERE id = 1');
    expect(r.rows[0]).toEqual({ at: 1_767_225_600_123, data: { d: { email: 'a@b.c' }, i: ['x'] } });
    await expect(pool.query('SELECT 9007199254740993::bigint AS big')).rejects.toThrow(/beyond Number.MAX_SAFE_INTEGER/);
  });

  it('keepOpen: idle connections stay open past the idle timeout; without it they close', async () => {
    const sessions = async (app: string) =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [app])).rows[0]!.n;
    const kept = createPool(url, { max: 3, keepOpen: true, idleTimeoutMs: 50, applicationName: 'rapport-test-kept' });
    const closing = createPool(url, { max: 3, idleTimeoutMs: 50, applicationName: 'rapport-test-closing' });
    try {
      for (const p of [kept, closing]) for (const c of await Promise.all([p.connect(), p.connect(), p.connect()])) c.release();
      expect([await sessions('rapport-test-kept'), await sessions('rapport-test-closing')]).toEqual([3, 3]);
      // wait for the other pool's idle timeout to have closed all of its sessions (a loaded machine may take a while)
      for (let i = 0; i < 100 && (await sessions('rapport-test-closing')) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect([await sessions('rapport-test-kept'), await sessions('rapport-test-closing')]).toEqual([3, 0]);
    } finally {
      await Promise.all([kept.end(), closing.end()]);
    }
  });

  it('cancels a statement running past the statement timeout', async () => {
    const quick = createPool(url, { max: 1, statementTimeoutMs: 100 });
    try {
      await expect(quick.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' }); // query_canceled
    } finally {
      await quick.end();
    }
  });
});

describe('withTransaction', () => {
  it('commits what fn did when it resolves', async () => {
    const out = await withTransaction(pool, async (c) => {
      await c.query('INSERT INTO t (id) VALUES (2)');
      return 'done';
    });
    expect(out).toBe('done');
    expect((await pool.query('SELECT count(*)::int AS n FROM t WHERE id = 2')).rows[0]).toEqual({ n: 1 });
  });

  it('rolls back everything fn did when it throws, rethrows, and gives the connection back', async () => {
    const boom = new Error('boom');
    await expect(
      withTransaction(pool, async (c) => {
        await c.query('INSERT INTO t (id) VALUES (3)');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await pool.query('SELECT count(*)::int AS n FROM t WHERE id = 3')).rows[0]).toEqual({ n: 0 });
    // a statement error inside also rolls back (and the pool still serves: the connection is usable)
    await expect(withTransaction(pool, (c) => c.query('INSERT INTO t (id) VALUES (2)'))).rejects.toMatchObject({ code: '23505' });
    expect(pool.waitingCount).toBe(0);
    expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 2 });
  });
});
