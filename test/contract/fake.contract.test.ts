import { createFakeConnector } from '../../src/connectors/fake.ts';
import type { ContactData } from '../../src/connectors/types.ts';
import { connectorContract } from './connector-contract.ts';

const contact = (email: string, firstname: string | null): ContactData => ({
  email: email.trim().toLowerCase(),
  emailRaw: email,
  phone: null,
  phoneRaw: null,
  firstName: firstname,
  lastName: null,
  createdAt: null,
  lifecycleStage: null,
});

connectorContract('fake', async () => {
  let t = Date.UTC(2026, 0, 1);
  let next = 1000;
  const connector = createFakeConnector({ portal: 'hubspot:42', pageSize: 10, now: () => t });
  return {
    connector,
    portal: 'hubspot:42',
    pageSize: 10,
    async createContact(p) {
      const id = String(next++);
      connector.put({ type: 'contacts', id, data: contact(p.email, p.firstname ?? null) });
      return id;
    },
    async updateContact(id, p) {
      const cur = connector.get('contacts', id)!;
      const d = cur.data as ContactData;
      connector.put({
        type: 'contacts',
        id,
        data: contact(p.email ?? d.emailRaw ?? '', p.firstname ?? d.firstName),
      });
    },
    async deleteContact(id) {
      connector.remove('contacts', id);
    },
    async createNote(contactIds, body) {
      const id = String(next++);
      connector.put({
        type: 'notes',
        id,
        contactIds: [...contactIds],
        data: { at: t, direction: null, durationMs: null, outcome: null, text: body, priority: null },
      });
      return id;
    },
    async advance(ms) {
      t += ms;
    },
    async inject(fault) {
      // more failures than any retry budget: the fake does not retry at all
      connector.failNext(fault, 1);
    },
    async clearFaults() {},
    async close() {},
  };
});
