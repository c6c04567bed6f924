import { inject } from 'vitest';
import { thirdProviderSuite } from '../e2e/third-provider-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// A third CRM (its own provider name in portals.crm) through the shared routes and daemon, with the store on Postgres.
thirdProviderSuite('Postgres', async () => ({
  env: { RAPPORT_DATABASE_URL: await createDatabase(inject('postgresUrl')) },
  cleanup: async () => undefined,
}));
