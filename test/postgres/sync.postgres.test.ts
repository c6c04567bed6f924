import { inject } from 'vitest';
import { syncSuite } from '../e2e/sync-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// `rapport sync` against the sandbox (backfill and incremental passes, merges, GDPR deletes and
// labels under search lag, write-back, SIGKILL at five points, SIGTERM, fault storms, bad input)
// with the store on Postgres: a fresh database per test, selected by RAPPORT_DATABASE_URL alone.
syncSuite('Postgres', () => ({
  fresh: async () => ({ RAPPORT_DATABASE_URL: await createDatabase(inject('postgresUrl')) }),
  cleanup: async () => undefined,
}));
