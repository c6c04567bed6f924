import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { syncDaemonSuite } from './sync-daemon-suite.ts';

// `rapport sync` as a daemon and on a terminal, on a SQLite file per test (the suite is shared with test/postgres/).
syncDaemonSuite('SQLite', () => {
  const dir = tempDir();
  return {
    fresh: async (label) => ({ RAPPORT_DB: join(dir.path, `${label}.db`) }),
    cleanup: async () => dir.cleanup(),
  };
});
