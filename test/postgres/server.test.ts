import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createDatabase, postgresBinaries, startPostgres, type PostgresBinaries } from '../support/postgres.ts';

/** startPostgres' rejection; a server that started after all is stopped, not leaked. */
const failureOf = (binaries: PostgresBinaries) =>
  startPostgres({ binaries }).then(
    async (server) => {
      await server.stop();
      return new Error('started');
    },
    (e: unknown) => e,
  );

describe('the test PostgreSQL server', () => {
  it('hands each caller a separate, empty database', async () => {
    const [a, b] = await Promise.all([createDatabase(inject('postgresUrl')), createDatabase(inject('postgresUrl'))]);
    expect(a).not.toBe(b);
    const client = new pg.Client({ connectionString: a });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; n: number }>(
        "SELECT current_database() AS db, (SELECT count(*)::int FROM information_schema.tables WHERE table_schema = 'public') AS n",
      );
      expect(rows[0]).toEqual({ db: new URL(a).pathname.slice(1), n: 0 });
    } finally {
      await client.end();
    }
  });

  it('fails loudly, naming the binary, when the binaries are missing', async () => {
    const err = await failureOf({ initdb: '/nonexistent/bin/initdb', postgres: '/nonexistent/bin/postgres' });
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/\/nonexistent\/bin\/postgres --version failed: .*ENOENT/);
  });

  it('fails loudly with initdb output when initdb is broken', async () => {
    const { postgres } = await postgresBinaries();
    // `postgres` as initdb: it runs, but refuses initdb's arguments
    const err = await failureOf({ initdb: postgres, postgres });
    expect((err as Error).message).toMatch(/^initdb failed/);
  });
});
