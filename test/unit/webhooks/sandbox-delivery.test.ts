import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { CLIENT_SECRET, settle, startRapport, type Harness } from '../server/harness.ts';

/** The sandbox's own signed deliveries (v1 + v3, its clock, its URI) are accepted and nudge the right streams. */
describe('webhooks delivered by the HubSpot sandbox', () => {
  let hs: Awaited<ReturnType<typeof startHubspotSandbox>>;
  let h: Harness;
  let hubId: number;
  let other: number;

  beforeAll(async () => {
    hs = await startHubspotSandbox({ limits: false, oauth: { clientId: 'client-id-test', clientSecret: CLIENT_SECRET, appId: 54321 } });
    h = await startRapport({ env: { HUBSPOT_BASE_URL: hs.baseUrl, HUBSPOT_APP_ID: '54321' } });
    hubId = hs.sandbox.portals.create({ privateAppToken: 'pat-test' }).hubId;
    other = hs.sandbox.portals.create().hubId; // not installed in Rapport
    await h.store.portals.upsert({ portal: `hubspot:${hubId}`, crm: 'hubspot', externalId: String(hubId), baseUrl: hs.baseUrl, scopes: [] });
    hs.sandbox.webhooks.subscribe({ targetUrl: `${h.url}/webhooks/hubspot`, clientSecret: CLIENT_SECRET, appId: 54321 });
  });
  afterAll(async () => {
    await hs.close();
    await h.close();
  });

  it('a logged call nudges the calls stream (and contacts via its association); our own property writes nudge nothing', async () => {
    const contact = hs.sandbox.data.create(hubId, 'contacts', { email: 'ada@example.com', firstname: 'Ada' });
    await hs.sandbox.webhooks.flush();
    await settle();
    expect(h.nudges.flatMap((n) => n.types)).toContain('contacts');
    h.nudges.length = 0;

    hs.sandbox.data.create(hubId, 'calls', { hs_timestamp: String(Date.now()), hs_call_direction: 'INBOUND' }, [{ type: 'contacts', id: contact.id }]);
    await hs.sandbox.webhooks.flush();
    await settle();
    const types = new Set(h.nudges.flatMap((n) => n.types));
    expect(types.has('calls')).toBe(true);
    expect(h.nudges.every((n) => n.portal === `hubspot:${hubId}`)).toBe(true);
    h.nudges.length = 0;

    hs.sandbox.data.update(hubId, 'contacts', contact.id, { rapport_health: 'red', rapport_churn_risk: '80' });
    hs.sandbox.data.create(other, 'contacts', { email: 'x@example.com' });
    await hs.sandbox.webhooks.flush();
    await settle();
    expect(h.nudges).toEqual([]);
    expect(hs.sandbox.webhooks.stats().failed).toBe(0);
    expect(hs.sandbox.webhooks.stats().delivered).toBeGreaterThanOrEqual(4);
    const metrics = await (await fetch(`${h.operatorUrl}/metrics`)).text();
    expect(metrics).toMatch(/outcome="own_property"} [1-9]/);
    expect(metrics).toMatch(/outcome="unknown_portal"} [1-9]/);
    expect(metrics).not.toContain('rapport_webhook_rejections_total{');
  });
});
