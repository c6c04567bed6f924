import { createHash, createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { signV3 } from '../../../src/sandbox/hubspot/webhooks.ts';

/**
 * Signed webhook delivery from the sandbox to a real HTTP target on 127.0.0.1. Signatures are
 * checked with an INDEPENDENT implementation of HubSpot's recipe (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation) written here.
 */
const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const APP_ID = 54321;

/** https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation v3, step by step: decode the listed %xx sequences, HMAC-SHA256 over method+uri+body+timestamp, base64. */
function independentV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  const decoded = uri
    .replaceAll('%3A', ':').replaceAll('%2F', '/').replaceAll('%3F', '?').replaceAll('%40', '@').replaceAll('%21', '!').replaceAll('%24', '$')
    .replaceAll('%27', "'").replaceAll('%28', '(').replaceAll('%29', ')').replaceAll('%2A', '*').replaceAll('%2C', ',').replaceAll('%3B', ';');
  return createHmac('sha256', secret).update(method + decoded + body + timestamp).digest('base64');
}
const independentV1 = (secret: string, body: string): string => createHash('sha256').update(secret + body).digest('hex');

type Received = { url: string; headers: Record<string, string>; body: string; events: Array<Record<string, unknown>> };

let target: { url: string; received: Received[]; respond: (n: number) => number | 'hang' | 'slow'; maxActive: number; waitFor(n: number): Promise<void>; close(): Promise<void> };

beforeAll(async () => {
  const received: Received[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const state = { respond: (_n: number): number | 'hang' | 'slow' => 204, active: 0, maxActive: 0 };
  const app = new Hono();
  app.post('/hooks/hubspot', async (c) => {
    const body = await c.req.text();
    received.push({ url: c.req.url, headers: Object.fromEntries(c.req.raw.headers), body, events: JSON.parse(body) as Array<Record<string, unknown>> });
    for (const w of [...waiters]) if (received.length >= w.n) w.resolve();
    const answer = state.respond(received.length);
    if (answer === 'hang') await new Promise((r) => setTimeout(r, 1_000));
    if (answer === 'slow') {
      // concurrency is measured over the slow requests only (a hung one from an earlier test may linger)
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      await new Promise((r) => setTimeout(r, 50));
      state.active--;
    }
    return c.body(null, typeof answer === 'number' ? (answer as 200) : 204);
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  target = {
    url: `http://127.0.0.1:${port}/hooks/hubspot?app=rapport%2Ctest`,
    received,
    get respond() {
      return state.respond;
    },
    set respond(f) {
      state.respond = f;
    },
    get maxActive() {
      return state.maxActive;
    },
    set maxActive(n) {
      state.maxActive = n;
    },
    waitFor: (n) =>
      new Promise<void>((resolve) => {
        if (received.length >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
});
afterAll(async () => target.close());

let sandbox: HubspotSandbox;
let hubId: number;
beforeEach(async (ctx) => {
  target.received.length = 0;
  target.respond = () => 204;
  sandbox = createHubspotSandbox({
    limits: false,
    seed: 3,
    webhookDelivery: { batchWindowMs: 20, retry: { maxRetries: 3, baseMs: 10, maxMs: 40 }, timeoutMs: 300 },
  });
  hubId = sandbox.portals.create({ privateAppToken: 'pat-test' }).hubId;
  sandbox.webhooks.subscribe({ targetUrl: target.url, clientSecret: SECRET, appId: APP_ID });
  ctx.onTestFinished(() => sandbox.close());
});

describe('sandbox webhook delivery', () => {
  it('signs with v3 and v1 so an independent implementation of HubSpot recipe verifies them', async () => {
    // the independent implementation agrees with the documented vector (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation)
    const vectorBody =
      '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
    expect(independentV1(SECRET, vectorBody)).toBe('232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de');
    expect(independentV3(SECRET, 'POST', 'https://www.example.com/webhook_uri', vectorBody, '1700000000000')).toBe('/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=');
    expect(signV3(SECRET, 'POST', 'https://www.example.com/webhook_uri', vectorBody, 1700000000000)).toBe('/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=');

    const contact = sandbox.data.create(hubId, 'contacts', { email: 'a@example.com' });
    await sandbox.webhooks.flush();
    expect(target.received).toHaveLength(1);
    const req = target.received[0]!;
    const ts = req.headers['x-hubspot-request-timestamp']!;
    expect(Math.abs(Number(ts) - Date.now())).toBeLessThan(300_000);
    expect(req.headers['content-type']).toContain('application/json');
    expect(req.headers['x-hubspot-signature-v3']).toBe(independentV3(SECRET, 'POST', req.url, req.body, ts));
    expect(req.headers['x-hubspot-signature-version']).toBe('v1');
    expect(req.headers['x-hubspot-signature']).toBe(independentV1(SECRET, req.body));
    // a different secret or a tampered body does not verify
    expect(req.headers['x-hubspot-signature-v3']).not.toBe(independentV3('other-secret', 'POST', req.url, req.body, ts));
    expect(req.headers['x-hubspot-signature-v3']).not.toBe(independentV3(SECRET, 'POST', req.url, req.body.replace('contact', 'kontakt'), ts));

    expect(req.events).toEqual([
      {
        eventId: expect.any(Number),
        subscriptionId: expect.any(Number),
        portalId: hubId,
        appId: APP_ID,
        occurredAt: contact.createdAt,
        subscriptionType: 'contact.creation',
        attemptNumber: 0,
        objectId: Number(contact.id),
        changeFlag: 'NEW',
        changeSource: 'CRM_UI',
        sourceId: expect.any(String),
      },
    ]);
  });

  it('turns changes into HubSpot-shaped events: legacy types for contacts, object.* with objectTypeId for engagements, tickets, feedback', async () => {
    const contact = sandbox.data.create(hubId, 'contacts', { email: 'b@example.com' });
    await sandbox.webhooks.flush();
    target.received.length = 0;

    sandbox.data.update(hubId, 'contacts', contact.id, { firstname: 'Bea' });
    const call = sandbox.data.create(hubId, 'calls', { hs_call_body: 'hello', hs_timestamp: '2026-01-01T00:00:00Z' }, [{ type: 'contacts', id: contact.id }]);
    const ticket = sandbox.data.create(hubId, 'tickets', { subject: 'broken', hs_pipeline_stage: '1' });
    sandbox.data.archive(hubId, 'contacts', contact.id);
    await sandbox.webhooks.flush();

    const events = target.received.flatMap((r) => r.events);
    const byType = (t: string) => events.filter((e) => e.subscriptionType === t);
    expect(byType('contact.propertyChange')).toEqual([
      expect.objectContaining({ objectId: Number(contact.id), propertyName: 'firstname', propertyValue: 'Bea', portalId: hubId }),
    ]);
    expect(byType('object.creation')).toEqual([
      expect.objectContaining({ objectId: Number(call.id), objectTypeId: '0-48', changeFlag: 'CREATED' }),
      expect.objectContaining({ objectId: Number(ticket.id), objectTypeId: '0-5', changeFlag: 'CREATED' }),
    ]);
    expect(byType('object.associationChange')[0]).toMatchObject({ fromObjectId: Number(call.id), toObjectId: Number(contact.id), associationRemoved: false });
    // and the other direction, as HubSpot fires it (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide)
    expect(byType('contact.associationChange')).toEqual([
      expect.objectContaining({ associationType: 'CONTACT_TO_CALL', fromObjectId: Number(contact.id), toObjectId: Number(call.id), associationRemoved: false }),
    ]);
    expect(byType('contact.deletion')).toEqual([expect.objectContaining({ objectId: Number(contact.id), changeFlag: 'DELETED' })]);
    // last-modified properties are not subscribable (https://developers.hubspot.com/docs/api-reference/2026-03/webhooks/guide)
    expect(events.some((e) => e.propertyName === 'lastmodifieddate' || e.propertyName === 'hs_lastmodifieddate')).toBe(false);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('batches at most 100 events per POST, and gathers a burst into one request without flush', async () => {
    for (let i = 0; i < 250; i++) sandbox.data.create(hubId, 'contacts', { email: `c${i}@example.com` });
    await sandbox.webhooks.flush();
    const sizes = target.received.map((r) => r.events.length).sort((a, b) => b - a);
    expect(sizes).toEqual([100, 100, 50]);
    expect(new Set(target.received.flatMap((r) => r.events.map((e) => e.eventId))).size).toBe(250);
    expect(sandbox.webhooks.stats()).toMatchObject({ delivered: 250, failed: 0, pending: 0 });

    target.received.length = 0;
    for (let i = 0; i < 3; i++) sandbox.data.create(hubId, 'contacts', { email: `d${i}@example.com` });
    await target.waitFor(1);
    expect(target.received[0]!.events).toHaveLength(3);
  });

  it('retries after a 500 from the target with attemptNumber + 1, a fresh signature and the same events', async () => {
    target.respond = (n) => (n === 1 ? 500 : 200);
    sandbox.data.create(hubId, 'contacts', { email: 'retry@example.com' });
    await target.waitFor(2); // the retry timer fires on its own, no flush
    const [first, second] = target.received;
    expect(first!.events[0]!.attemptNumber).toBe(0);
    expect(second!.events[0]!.attemptNumber).toBe(1);
    expect(second!.events[0]!.eventId).toBe(first!.events[0]!.eventId);
    const ts = second!.headers['x-hubspot-request-timestamp']!;
    expect(second!.headers['x-hubspot-signature-v3']).toBe(independentV3(SECRET, 'POST', second!.url, second!.body, ts));
    await sandbox.webhooks.flush();
    expect(sandbox.webhooks.stats()).toMatchObject({ delivered: 1, failed: 0, pending: 0, retries: 1 });
  });

  it('retries timeouts and 4xx, then gives up after the last retry', async () => {
    target.respond = (n) => (n === 1 ? 'hang' : n === 2 ? 404 : 200);
    sandbox.data.create(hubId, 'contacts', { email: 'slow@example.com' });
    await sandbox.webhooks.flush();
    expect(target.received.map((r) => r.events[0]!.attemptNumber)).toEqual([0, 1, 2]);
    expect(sandbox.webhooks.stats()).toMatchObject({ delivered: 1, failed: 0, pending: 0 });

    target.received.length = 0;
    target.respond = () => 503;
    sandbox.data.create(hubId, 'contacts', { email: 'down@example.com' });
    await sandbox.webhooks.flush();
    expect(target.received).toHaveLength(4); // 1 + maxRetries 3
    expect(sandbox.webhooks.stats()).toMatchObject({ delivered: 1, failed: 1, pending: 0 });
  });

  it('keeps at most maxConcurrentPerPortal requests in flight per portal', async () => {
    const serial = createHubspotSandbox({ limits: false, webhookDelivery: { batchWindowMs: 5, maxConcurrentPerPortal: 1, maxEventsPerRequest: 10 } });
    try {
      const hub = serial.portals.create().hubId;
      serial.webhooks.subscribe({ targetUrl: target.url, clientSecret: SECRET, appId: APP_ID });
      target.respond = () => 'slow';
      target.maxActive = 0;
      for (let i = 0; i < 30; i++) serial.data.create(hub, 'contacts', { email: `s${i}@example.com` });
      await serial.webhooks.flush();
      expect(target.received.map((r) => r.events.length)).toEqual([10, 10, 10]);
      expect(target.maxActive).toBe(1);

      // the default allows parallel requests: the same burst overlaps
      target.received.length = 0;
      target.maxActive = 0;
      for (let i = 0; i < 300; i++) sandbox.data.create(hubId, 'contacts', { email: `p${i}@example.com` });
      await sandbox.webhooks.flush();
      expect(target.received).toHaveLength(3);
      expect(target.maxActive).toBeGreaterThan(1);
    } finally {
      await serial.close();
    }
  });

  it('sends nothing for a revoked portal or a portal outside the subscription', async () => {
    const other = sandbox.portals.create().hubId;
    sandbox.webhooks.subscribe({ targetUrl: target.url, clientSecret: SECRET, appId: APP_ID, portals: [hubId] });
    sandbox.data.create(other, 'contacts', { email: 'x@example.com' });
    sandbox.portals.revoke(hubId);
    sandbox.data.create(hubId, 'contacts', { email: 'y@example.com' });
    await sandbox.webhooks.flush();
    expect(target.received).toHaveLength(0);
  });

  it('can deliver duplicates and out-of-order batches, as HubSpot may', async () => {
    sandbox.webhooks.setModes({ duplicateRate: 1, shuffle: true });
    const ids = [];
    for (let i = 0; i < 40; i++) ids.push(Number(sandbox.data.create(hubId, 'contacts', { email: `o${i}@example.com` }).id));
    await sandbox.webhooks.flush();
    expect(target.received).toHaveLength(2);
    const [a, b] = target.received.map((r) => r.events.map((e) => e.eventId));
    expect(b).toEqual(a);
    expect(target.received[0]!.events.map((e) => e.objectId)).not.toEqual(ids);
    expect([...target.received[0]!.events.map((e) => e.objectId as number)].sort((x, y) => x - y)).toEqual(ids);
    expect(sandbox.webhooks.stats()).toMatchObject({ delivered: 40, duplicates: 1, pending: 0 });
    expect(() => sandbox.webhooks.setModes({ duplicateRate: 2 })).toThrow(RangeError);
  });

  it('refuses a subscription without a secret or with a non-http target', () => {
    expect(() => sandbox.webhooks.subscribe({ targetUrl: target.url, clientSecret: '', appId: APP_ID })).toThrow(/secret/);
    expect(() => sandbox.webhooks.subscribe({ targetUrl: 'ftp://x', clientSecret: SECRET, appId: APP_ID })).toThrow(/http/);
  });
});
