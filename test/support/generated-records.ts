/**
 * The generator's batches as the HubSpot connector would deliver them: its own `toRecord`
 * mapping with the batch's associations, so stores filled straight from the generator (model
 * benches, report tests) hold exactly what a sync would have written. No HTTP involved.
 */
import type { CrmRecord, ObjectType } from '../../src/connectors/types.ts';
import { toRecord } from '../../src/connectors/hubspot/mapping.ts';
import type { GeneratedBatch } from '../../src/sandbox/model.ts';

export function generatedRecords(portal: string, batch: GeneratedBatch, now: number, flag: (r: CrmRecord) => void): CrmRecord[] {
  const contactsOf = new Map<string, string[]>();
  const companiesOf = new Map<string, { id: string; primary: boolean }[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const list = m.get(k);
    if (list === undefined) m.set(k, [v]);
    else list.push(v);
  };
  for (const a of batch.associations) {
    // The sandbox serves both directions; the batch may list either one.
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
      now,
    );
    flag(r);
    return r;
  });
}
