import { afterAll, describe, expect, it } from 'vitest';
import { createLiveActivity, generateAccount } from '../../../src/sandbox/generator/index.ts';
import { createHubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';

/** The generator's batches load into the real sandbox storage and come out on HubSpot's wire. */
const NOW = Date.UTC(2026, 0, 15);

describe('generated account in the sandbox', () => {
  const sandbox = createHubspotSandbox({ limits: false });
  afterAll(() => sandbox.close());
  const { hubId } = sandbox.portals.create({ privateAppToken: 'pat-generator' });
  const counts: Record<string, number> = {};
  for (const batch of generateAccount({ seed: 21, contacts: 600, now: NOW })) {
    sandbox.data.load(hubId, batch);
    for (const o of batch.objects) counts[o.type] = (counts[o.type] ?? 0) + 1;
  }
  const get = async (path: string) => {
    const res = await sandbox.app.request(path, { headers: { authorization: 'Bearer pat-generator' } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as { results: { id: string; properties: Record<string, string | null>; associations?: Record<string, { results: { id: string; type: string }[] }> }[] };
  };

  it('loads every record', () => {
    for (const [type, n] of Object.entries(counts)) expect(sandbox.data.count(hubId, type as 'contacts'), type).toBe(n);
  });

  it('serves deals with their string amounts, closedates and contact associations', async () => {
    const body = await get('/crm/v3/objects/deals?limit=20&properties=amount,closedate,dealstage,hs_is_closed_won&associations=contacts');
    expect(body.results).toHaveLength(20);
    for (const deal of body.results) {
      expect(typeof deal.properties['amount']).toBe('string');
      expect(deal.associations?.['contacts']?.results.length).toBeGreaterThan(0);
    }
  });

  it('serves contacts with their primary company', async () => {
    const body = await get('/crm/v3/objects/contacts?limit=10&properties=email,phone&associations=companies');
    for (const contact of body.results) {
      const types = contact.associations?.['companies']?.results.map((r) => r.type) ?? [];
      expect(types).toContain('contact_to_company');
    }
  });

  it('accepts a live-activity step for an existing contact', () => {
    const live = createLiveActivity({ seed: 1, now: NOW });
    const batch = live.next(['1001', '1002'], NOW + 1_000);
    sandbox.data.load(hubId, batch);
    const [object] = batch.objects;
    if (!object) throw new Error('no live object');
    expect(sandbox.data.get(hubId, object.type, object.id)?.id).toBe(object.id);
    const contact = batch.associations[0];
    const contactId = contact?.fromType === 'contacts' ? contact.fromId : contact?.toId;
    expect(sandbox.data.associationsOf(hubId, object.type, object.id, 'contacts')).toContain(contactId);
  });
});
