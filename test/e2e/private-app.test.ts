import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { privateAppSuite } from './private-app-suite.ts';

// The README's by-hand flow on a SQLite file per test (the suite is shared with test/postgres/).
privateAppSuite('SQLite', () => {
  const dir = tempDir();
  return {
    fresh: async (label) => ({ RAPPORT_DB: join(dir.path, `${label}.db`) }),
    cleanup: async () => dir.cleanup(),
  };
});
