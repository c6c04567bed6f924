import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { demoSuite } from '../e2e/demo-suite.ts';
import { rapportChild } from '../support/cli.ts';
import { createDatabase } from '../support/postgres.ts';

// `rapport demo --once` with the store on Postgres (--database-url): a fresh database per run.
demoSuite('Postgres', { args: async () => ['--database-url', await createDatabase(inject('postgresUrl'))] });

describe('rapport demo --database-url', () => {
  it('refuses a database that already holds a portal, and leaves it as it was', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const first = await rapportChild(['demo', '--once', '--crm', 'salesforce', '--contacts', '200', '--database-url', url], {}).done;
    expect(first.code, first.stderr).toBe(0);
    const count = async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const r = await c.query<{ portals: string; records: string }>('select (select count(*) from portals) as portals, (select count(*) from records) as records');
        return r.rows[0];
      } finally {
        await c.end();
      }
    };
    const before = await count();
    expect(Number(before?.portals)).toBe(1);

    const again = await rapportChild(['demo', '--once', '--crm', 'salesforce', '--contacts', '200', '--database-url', url], {}).done;
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toMatch(/already holds 1 portal\(s\) \(salesforce:00D\w+\); the demo needs an empty database and never erases one/);
    expect(await count()).toEqual(before);
  }, 120_000);
});
