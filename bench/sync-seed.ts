import type { HubspotSandbox } from '../src/sandbox/hubspot/index.ts';
import type { SandboxAssociation, SandboxObject } from '../src/sandbox/model.ts';

/** Contacts with one primary company each (10 contacts per company), loaded in bounded batches without events. */
export function seedContacts(sb: HubspotSandbox, hubId: number, contacts: number): void {
  const t0 = Date.UTC(2025, 0, 1);
  const companies = Math.ceil(contacts / 10);
  const companyId = (i: number) => String(10_000_000 + i);
  for (let first = 0; first < companies; first += 5_000) {
    const objects: SandboxObject[] = [];
    for (let i = first; i < Math.min(first + 5_000, companies); i++) {
      objects.push({ type: 'companies', id: companyId(i), properties: { name: `Company ${i}`, domain: `c${i}.example.com` }, createdAt: t0, updatedAt: t0, archived: false });
    }
    sb.data.load(hubId, { objects, associations: [], truth: [] });
  }
  for (let first = 0; first < contacts; first += 5_000) {
    const objects: SandboxObject[] = [];
    const associations: SandboxAssociation[] = [];
    for (let i = first; i < Math.min(first + 5_000, contacts); i++) {
      const id = String(i + 1);
      objects.push({
        type: 'contacts',
        id,
        properties: { email: `Person${i}@Example.com `, firstname: `First${i}`, lastname: `Last${i}`, phone: '+1 (555) 010-0000', lifecyclestage: 'customer' },
        createdAt: t0 + i,
        updatedAt: t0 + 2 * i,
        archived: false,
      });
      associations.push({ fromType: 'contacts', fromId: id, toType: 'companies', toId: companyId(Math.floor(i / 10)), typeId: 1 });
    }
    sb.data.load(hubId, { objects, associations, truth: [] });
  }
}
