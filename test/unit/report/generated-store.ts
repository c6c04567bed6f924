/** A small synthetic portal for report tests: the generator's batches → the HubSpot connector's own toRecord → the store. */
import { join } from 'node:path';
import { createDuplicateEmailFlagger } from '../../../src/connectors/hubspot/mapping.ts';
import { generateAccount } from '../../../src/sandbox/generator/index.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { generatedRecords } from '../../support/generated-records.ts';

export const GEN_NOW = Date.UTC(2026, 5, 1);


/** Generates `contacts` contacts (seeded) into a fresh store file; returns it with a cleanup. */
export async function generatedStore(portal: string, contacts: number, seed = 11): Promise<{ store: Store; path: string; cleanup: () => Promise<void> }> {
  const dir = tempDir('rapport-report-');
  const path = join(dir.path, 'r.db');
  const store = createStore({ path, now: () => GEN_NOW });
  const flag = createDuplicateEmailFlagger();
  for (const batch of generateAccount({ seed, contacts, now: GEN_NOW })) {
    const recs = generatedRecords(portal, batch, GEN_NOW, flag);
    await store.records.upsertPage(recs);
  }
  return {
    store,
    path,
    cleanup: async () => {
      try {
        await store.close();
      } catch {
        // already closed
      }
      dir.cleanup();
    },
  };
}
