import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { syncSuite } from './sync-suite.ts';

// `rapport sync` against the sandbox on a SQLite file per test (the suite is shared with test/postgres/).
syncSuite('SQLite', () => {
  const dir = tempDir();
  return {
    fresh: async (label) => ({ RAPPORT_DB: join(dir.path, `${label}.db`) }),
    cleanup: async () => dir.cleanup(),
  };
});
