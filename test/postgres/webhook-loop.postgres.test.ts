import { inject } from 'vitest';
import { webhookLoopSuite } from '../e2e/webhook-loop-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// The webhook → sync → rescore → write-back loop (OAuth install through the browser flow, signed
// webhooks, the daemon, write-back, our own changes ignored) with the store on Postgres.
webhookLoopSuite('Postgres', async () => ({
  env: { RAPPORT_DATABASE_URL: await createDatabase(inject('postgresUrl')) },
  cleanup: async () => undefined,
}));
