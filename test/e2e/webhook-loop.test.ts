import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { webhookLoopSuite } from './webhook-loop-suite.ts';

// The webhook → sync → rescore → write-back loop on a SQLite file (the suite is shared with test/postgres/).
webhookLoopSuite('SQLite', async () => {
  const dir = tempDir();
  return { env: { RAPPORT_DB: join(dir.path, 'r.db') }, cleanup: async () => dir.cleanup() };
});
