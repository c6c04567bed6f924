/** A small synthetic portal for report tests: the generator's batches → the HubSpot connector's own toRecord → the store. */
import { join } from 'node:path';
import type { CrmRecord, ObjectType } from '../../../src/connectors/types.ts';
import { createDuplicateEmailFlagger, toRecord } from '../../../src/connectors/hubspot/mapping.ts';
import type { GeneratedBatch } from '../../../src/sandbox/model.ts';
import { generateAccount } from '../../../src/sandbox/generator/index.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

export const GEN_NOW = Date.UTC(2026, 5, 1);

function toRecords(portal: string, batch: GeneratedBatch, flag: (r: CrmRecord) => void): CrmRecord[] {
  const contactsOf = new Map<string, string[]>();
  const companiesOf = new Map<string, { id: string; primary: boolean }[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const list = m.get(k);
    if (list === undefined) m.set(k, [v]);
    else list.push(v);
  };
  for (const a of batch.associations) {
    if (a.toType === 'contacts' && a.fromType !== 'contacts') push(contactsOf, `${a.fromType}/${a.fromId}`, a.toId);
    if (a.fromType === 'contacts' && a.toType !== 'contacts') push(contactsOf, `${a.toType}/${a.toId}`, a.fromId);
    if (a.toType === 'companies' && a.fromType !== 'companies') push(companiesOf, `${a.fromType}/${a.fromId}`, { id: a.toId, primary: a.typeId === 1 || a.typeId === 279 });
    if (a.fromType === 'companies' && a.toType === 'contacts') push(companiesOf, `contacts/${a.toId}`, { id: a.fromId, primary: true });
  }
  return batch.objects.map((o) => {
    const key = `${o.type}/${o.id}`;
    const r = toRecord(
      portal,
      o.type as ObjectType,
      { id: o.id, properties: o.properties, updatedAt: new Date(o.updatedAt).toISOString(), archived: o.archived },
      { contacts: contactsOf.get(key) ?? [], companies: companiesOf.get(key) ?? [] },
      GEN_NOW,
    );
    flag(r);
    return r;
  });
}

/** Generates `contacts` contacts (seeded) into a fresh store file; returns it with a cleanup. */
export function generatedStore(portal: string, contacts: number, seed = 11): { store: Store; path: string; cleanup: () => void } {
  const dir = tempDir('rapport-report-');
  const path = join(dir.path, 'r.db');
  const store = createStore({ path, now: () => GEN_NOW });
  const flag = createDuplicateEmailFlagger();
  for (const batch of generateAccount({ seed, contacts, now: GEN_NOW })) {
    const recs = toRecords(portal, batch, flag);
    store.transaction(() => store.records.upsertPage(recs));
  }
  return {
    store,
    path,
    cleanup: () => {
      try {
        store.close();
      } catch {
        // already closed
      }
      dir.cleanup();
    },
  };
}
