import { inject } from 'vitest';
import { syncDaemonSuite } from '../e2e/sync-daemon-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// `rapport sync` as a daemon (90 s, a change picked up meanwhile, SIGTERM) and on a terminal with
// the store on Postgres: a fresh database per test, selected by RAPPORT_DATABASE_URL.
syncDaemonSuite('Postgres', () => ({
  fresh: async () => ({ RAPPORT_DATABASE_URL: await createDatabase(inject('postgresUrl')) }),
  cleanup: async () => undefined,
}));
