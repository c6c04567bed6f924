import pg from 'pg';
import { inject } from 'vitest';
import { salesforceServeSuite } from '../e2e/salesforce-serve-suite.ts';
import { createDatabase } from '../support/postgres.ts';

// Salesforce through `rapport serve` (OAuth install, encrypted tokens, refresh on an expired
// session, restart, a revoked grant) with the store on Postgres.
salesforceServeSuite('Postgres', async () => {
  const url = await createDatabase(inject('postgresUrl'));
  return {
    env: { RAPPORT_DATABASE_URL: url },
    // every row of the tables that hold the portal and its tokens, as the server returns them
    bytes: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const rows = await c.query<{ b: Buffer }>(
          "SELECT convert_to(p::text, 'UTF8') || t.access_token || COALESCE(t.refresh_token, ''::bytea) AS b FROM portals p JOIN tokens t USING (portal)",
        );
        return Buffer.concat(rows.rows.map((r) => r.b));
      } finally {
        await c.end();
      }
    },
    cleanup: async () => undefined,
  };
});
