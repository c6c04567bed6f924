import { join } from 'node:path';
import { tempDir } from '../support/temp-dir.ts';
import { thirdProviderSuite } from './third-provider-suite.ts';

// A third CRM through the shared routes and daemon, on a SQLite file (the suite is shared with test/postgres/).
thirdProviderSuite('SQLite', async () => {
  const dir = tempDir();
  return { env: { RAPPORT_DB: join(dir.path, 'r.db') }, cleanup: async () => dir.cleanup() };
});
