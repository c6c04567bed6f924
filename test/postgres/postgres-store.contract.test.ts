import { inject } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/store.ts';
import { storeContract } from '../contract/store-contract.ts';
import { createDatabase } from '../support/postgres.ts';

// The one store contract on the Postgres store: a fresh database per test, on the run's server.
storeContract('Postgres', async () => {
  const url = await createDatabase(inject('postgresUrl'));
  return {
    open: async (opts = {}) => openPostgresStore({ url, ...opts }),
    cleanup: async () => undefined,
  };
});
