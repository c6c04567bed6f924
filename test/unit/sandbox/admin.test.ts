import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';

/** The `/_sandbox/*` admin API over real HTTP, as a child process or the demo would use it. */
const ADMIN = 'admin-token-for-tests';
const clock = createClock({ frozenAt: Date.parse('2026-11-01T12:00:00Z') });
let sandbox: HubspotSandbox;
let baseUrl: string;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ sandbox, baseUrl, close } = await startHubspotSandbox({ clock, adminToken: ADMIN, seed: 11, webhookDelivery: { batchWindowMs: 10 } }));
});
afterAll(async () => close());

async function admin(method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  if (text !== '') expect(res.headers.get('content-type')).toContain('application/json');
  return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}
const crm = (token: string, path: string) => fetch(`${baseUrl}${path}`, { headers: { Authorization: `Bearer ${token}` } });

describe('sandbox admin API', () => {
  it('counts batch-update inputs per record, and how many changed a value (a test probe)', async () => {
    const { hubId, token } = sandbox.portals.create();
    const a = sandbox.data.create(hubId, 'contacts', { email: 'a@probe.example.com', firstname: 'A' }).id;
    const b = sandbox.data.create(hubId, 'contacts', { email: 'b@probe.example.com', firstname: 'B' }).id;
    const update = (inputs: unknown[]) =>
      fetch(`${baseUrl}/crm/v3/objects/contacts/batch/update`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs }) });
    expect((await update([{ id: a, properties: { firstname: 'A2' } }, { id: b, properties: { firstname: 'B' } }])).status).toBe(200);
    expect((await update([{ id: a, properties: { firstname: 'A2' } }])).status).toBe(200);
    // refused inputs are not writes
    expect((await update([{ id: a, properties: { no_such_property: 'x' } }])).status).toBe(400);
    const writes = await admin('GET', `/_sandbox/${hubId}/writes/contacts`);
    expect(writes.status).toBe(200);
    expect(writes.json).toEqual({ [a]: { inputs: 2, changed: 1 }, [b]: { inputs: 1, changed: 0 } });
    expect((await admin('GET', `/_sandbox/${hubId}/writes/companies`)).json).toEqual({});
    expect((await admin('GET', `/_sandbox/${hubId}/writes/nonsense`)).status).toBe(400);
  });

  it('needs the admin token; HubSpot tokens do not open it', async () => {
    const { token } = sandbox.portals.create();
    expect((await admin('GET', '/_sandbox/portals', undefined, 'wrong-token-123')).status).toBe(401);
    expect((await admin('GET', '/_sandbox/portals', undefined, token)).status).toBe(401);
    expect((await fetch(`${baseUrl}/_sandbox/portals`)).status).toBe(401);
    const viaHeader = await fetch(`${baseUrl}/_sandbox/portals`, { headers: { 'X-Sandbox-Admin-Token': ADMIN } });
    expect(viaHeader.status).toBe(200);
    expect(sandbox.adminToken).toBe(ADMIN);
    expect((await admin('GET', '/_sandbox/nothing-here')).status).toBe(404);
  });

  it('creates portals, records, associations; updates and deletes them; the CRM API sees it all', async () => {
    const created = await admin('POST', '/_sandbox/portals', { privateAppToken: 'pat-admin-test' });
    expect(created.status).toBe(201);
    const hubId = created.json.hubId as number;
    expect(created.json.token).toBe('pat-admin-test');
    expect((await admin('POST', '/_sandbox/portals', { privateAppToken: 'pat-admin-test' })).status).toBe(409);

    const contact = await admin('POST', `/_sandbox/${hubId}/objects/contacts`, { properties: { email: 'ann@example.com', firstname: 'Ann' } });
    expect(contact.status).toBe(201);
    const id = contact.json.id as string;
    const company = await admin('POST', `/_sandbox/${hubId}/objects/0-2`, { properties: { name: 'Acme' } });
    const call = await admin('POST', `/_sandbox/${hubId}/objects/call`, { properties: { hs_call_duration: 60000 }, associations: [{ type: 'contacts', id }] });
    expect(call.status).toBe(201);
    expect((call.json.properties as Record<string, unknown>).hs_call_duration).toBe('60000');
    expect(sandbox.data.associationsOf(hubId, 'calls', call.json.id as string, 'contacts')).toEqual([id]);

    expect((await admin('PUT', `/_sandbox/${hubId}/associations/contacts/${id}/companies/${company.json.id as string}`)).status).toBe(204);
    expect(sandbox.data.associationsOf(hubId, 'contacts', id, 'companies')).toEqual([company.json.id]);
    expect((await admin('DELETE', `/_sandbox/${hubId}/associations/contacts/${id}/companies/${company.json.id as string}`)).status).toBe(204);
    expect(sandbox.data.associationsOf(hubId, 'contacts', id, 'companies')).toEqual([]);
    // typeId 1 is the primary; with category=USER_DEFINED it is the "Decision maker" label
    expect((await admin('PUT', `/_sandbox/${hubId}/associations/contacts/${id}/companies/${company.json.id as string}?typeId=1&category=USER_DEFINED`)).status).toBe(204);
    const labelled = await crm('pat-admin-test', `/crm/v4/objects/contacts/${id}/associations/companies`);
    expect(((await labelled.json()) as { results: Array<{ associationTypes: unknown[] }> }).results[0]?.associationTypes).toEqual([
      { category: 'USER_DEFINED', typeId: 1, label: 'Decision maker' },
      { category: 'HUBSPOT_DEFINED', typeId: 279, label: null },
    ]);
    expect((await admin('DELETE', `/_sandbox/${hubId}/associations/contacts/${id}/companies/${company.json.id as string}`)).status).toBe(204);

    const patched = await admin('PATCH', `/_sandbox/${hubId}/objects/contacts/${id}`, { properties: { firstname: 'Anna' } });
    expect(patched.status).toBe(200);
    const viaApi = await crm('pat-admin-test', `/crm/v3/objects/contacts/${id}?properties=firstname`);
    expect(((await viaApi.json()) as { properties: Record<string, string> }).properties.firstname).toBe('Anna');

    const counts = await admin('GET', `/_sandbox/${hubId}/counts`);
    expect(counts.json).toMatchObject({ contacts: 1, companies: 1, calls: 1, deals: 0 });

    expect((await admin('DELETE', `/_sandbox/${hubId}/objects/contacts/${id}`)).status).toBe(204);
    expect((await crm('pat-admin-test', `/crm/v3/objects/contacts/${id}`)).status).toBe(404);
    expect((await admin('GET', `/_sandbox/${hubId}/objects/contacts/${id}`)).json.archived).toBe(true);
    expect((await admin('DELETE', `/_sandbox/${hubId}/objects/contacts/${id}`)).status).toBe(404);
  });

  it('refuses bad input with a clear message and changes nothing', async () => {
    const { hubId } = sandbox.portals.create();
    const before = sandbox.data.count(hubId, 'contacts');
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', `/_sandbox/${hubId}/objects/contacts`, '{not json', 400],
      ['POST', `/_sandbox/${hubId}/objects/contacts`, { props: {} }, 400],
      ['POST', `/_sandbox/${hubId}/objects/widgets`, { properties: {} }, 400],
      ['POST', `/_sandbox/${hubId}/objects/contacts`, { properties: {}, associations: [{ type: 'contacts', id: 'abc' }] }, 400],
      ['POST', `/_sandbox/99/objects/contacts`, { properties: {} }, 404],
      ['PATCH', `/_sandbox/${hubId}/objects/contacts/424242`, { properties: { a: 'b' } }, 404],
      ['POST', '/_sandbox/clock', { advanceMs: -5 }, 400],
      ['POST', '/_sandbox/faults', { '500': 2 }, 400],
      ['POST', '/_sandbox/faults', { boom: 0.5 }, 400],
      ['POST', '/_sandbox/limits', { per10s: 0, searchPerSecond: 1 }, 400],
      ['POST', '/_sandbox/webhooks', { targetUrl: 'ftp://x', clientSecret: 's', appId: 1 }, 400],
    ];
    for (const [method, path, body, status] of cases) {
      const res = await admin(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(typeof res.json.message).toBe('string');
    }
    expect(sandbox.data.count(hubId, 'contacts')).toBe(before);
  });

  it('moves the clock, sets faults and limits, revokes and expires tokens, reports stats', async () => {
    const { hubId, token } = sandbox.portals.create();
    const t0 = clock.now();
    expect((await admin('POST', '/_sandbox/clock', { advanceMs: 60_000 })).json.now).toBe(t0 + 60_000);
    expect((await admin('POST', '/_sandbox/clock', { set: t0 })).json.now).toBe(t0);

    expect((await admin('POST', '/_sandbox/faults', { '500': 1 })).status).toBe(200);
    expect((await crm(token, '/crm/v3/objects/contacts')).status).toBe(500);
    await admin('POST', '/_sandbox/faults', { '500': 0 });
    expect((await crm(token, '/crm/v3/objects/contacts')).status).toBe(200);

    await admin('POST', '/_sandbox/limits', { per10s: 1, searchPerSecond: 1 });
    await crm(token, '/crm/v3/objects/contacts'); // uses the window's one request (or finds it used)
    const limited = await crm(token, '/crm/v3/objects/contacts');
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ policyName: 'TEN_SECONDLY_ROLLING' });
    await admin('POST', '/_sandbox/limits', { off: true });
    expect((await crm(token, '/crm/v3/objects/contacts')).status).toBe(200);

    const stats = await admin('GET', `/_sandbox/stats?hubId=${hubId}`);
    expect(stats.json).toMatchObject({ faults: 1, webhooks: { pending: 0 } });
    expect(stats.json.rateLimited as number).toBeGreaterThanOrEqual(1);
    expect(stats.json.requests as number).toBeGreaterThanOrEqual(4);

    expect((await admin('POST', `/_sandbox/portals/${hubId}/revoke`)).status).toBe(204);
    expect((await crm(token, '/crm/v3/objects/contacts')).status).toBe(401);
    expect((await admin('GET', '/_sandbox/portals')).json.portals).toContainEqual({ hubId, revoked: true });
    expect((await admin('POST', '/_sandbox/portals/1/revoke')).status).toBe(404);
    expect((await admin('POST', `/_sandbox/portals/${hubId}/expire-tokens`)).status).toBe(204);
  });

  it('registers an OAuth app and webhook subscriptions; admin edits are delivered as CRM_UI changes', async () => {
    expect((await admin('POST', '/_sandbox/apps', { clientId: 'cid-admin', clientSecret: 'sec-admin', appId: 777 })).status).toBe(201);
    const q = new URLSearchParams({ client_id: 'cid-admin', redirect_uri: 'http://localhost/cb', scope: 'crm.objects.contacts.read' });
    const authorized = await fetch(`${baseUrl}/oauth/authorize?${q.toString()}`, { redirect: 'manual' });
    expect(authorized.status).toBe(302);

    const got: Array<Array<Record<string, unknown>>> = [];
    const target = new Hono().post('/hook', async (c) => {
      got.push((await c.req.json()) as Array<Record<string, unknown>>);
      return c.body(null, 204);
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: target.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    try {
      const { hubId } = sandbox.portals.create();
      const targetUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const sub = await admin('POST', '/_sandbox/webhooks', { targetUrl, clientSecret: 'sec-admin', appId: 777, portals: [hubId] });
      expect(sub.status).toBe(201);
      const created = await admin('POST', `/_sandbox/${hubId}/objects/notes`, { properties: { hs_note_body: 'n' } });
      expect((await admin('POST', '/_sandbox/webhooks/modes', { shuffle: true })).json).toEqual({ duplicateRate: 0, shuffle: true });
      expect((await admin('POST', '/_sandbox/webhooks/modes', { duplicateRate: -1 })).status).toBe(400);
      const flushed = await admin('POST', '/_sandbox/webhooks/flush');
      expect(flushed.json).toMatchObject({ pending: 0 });
      const events = got.flat();
      expect(events).toContainEqual(
        expect.objectContaining({ subscriptionType: 'object.creation', objectTypeId: '0-46', objectId: Number(created.json.id), portalId: hubId, appId: 777, changeSource: 'CRM_UI' }),
      );
    } finally {
      await new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
    }
  });
});
