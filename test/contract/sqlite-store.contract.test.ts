import { join } from 'node:path';
import { createStore } from '../../src/store/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { storeContract } from './store-contract.ts';

storeContract('SQLite', async () => {
  const dir = tempDir();
  const path = join(dir.path, 'contract.db');
  return {
    open: async (opts = {}) => createStore({ path, ...opts }),
    cleanup: async () => dir.cleanup(),
  };
});
