import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { salesforceServeSuite } from './salesforce-serve-suite.ts';

// Salesforce through `rapport serve` on a SQLite file (the suite is shared with test/postgres/).
salesforceServeSuite('SQLite', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'r.db');
  return {
    env: { RAPPORT_DB: file },
    bytes: async () => Buffer.concat([file, `${file}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p))),
    cleanup: async () => dir.cleanup(),
  };
});
