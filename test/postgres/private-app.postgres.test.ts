import { inject } from 'vitest';
import { privateAppSuite } from '../e2e/private-app-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// The README's by-hand flow (sync + provision + score + write-back, status, train, score --all,
// serve's daemon, parked writes and `outbox retry`) with the store on Postgres: a fresh database
// per test, selected by RAPPORT_DATABASE_URL alone.
privateAppSuite('Postgres', () => ({
  fresh: async () => ({ RAPPORT_DATABASE_URL: await createDatabase(inject('postgresUrl')) }),
  cleanup: async () => undefined,
}));
