import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rapportChild } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';
import { demoSuite } from './demo-suite.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());

// the embedded default: a SQLite file per run (the suite is shared with test/postgres/)
demoSuite('SQLite', { args: async (label) => ['--db', join(dir.path, `${label}.db`)] });

describe('rapport demo', () => {
  it('refuses an unknown --crm with usage exit 2', async () => {
    const { done } = rapportChild(['demo', '--crm', 'pipedrive'], {});
    const r = await done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--crm must be hubspot or salesforce/);
  });

  it('refuses a --database-url that is not a Postgres URL with usage exit 2', async () => {
    const r = await rapportChild(['demo', '--once', '--database-url', 'mysql://localhost/x'], {}).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--database-url must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it('a database file it cannot open is a clear error (exit 7), and the sandbox does not keep the process alive', async () => {
    // /proc takes no new files, not even from root
    const r = await rapportChild(['demo', '--once', '--contacts', '50', '--db', '/proc/rapport-demo.db'], {}).done;
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/cannot open the SQLite file \/proc\/rapport-demo\.db \(RAPPORT_DB\): ENOENT/);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
  }, 60_000);
});
