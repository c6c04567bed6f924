/**
 * Issue 15 item 5 (signature downgrade) and the webhook cases that held: a delivery without a v3
 * signature was accepted on v1 (sha256(secret + body): no URL, no timestamp), so a day-old body
 * replayed fine. Now v3 is required; v1/v2 only with HUBSPOT_LEGACY_SIGNATURES=true.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNED_BODY_LIMIT as WEBHOOK_BODY_LIMIT, signV1, signV2, signV3 } from '../../src/connectors/hubspot/signature.ts';
import { CLIENT_SECRET, settle, startRapport, type Harness } from '../unit/server/harness.ts';
import { streamingPost } from './support.ts';

const PATH = '/webhooks/hubspot';
const PORTAL_ID = 62515;
const event = (over: Record<string, unknown> = {}) => ({
  eventId: Math.floor(Math.random() * 1e9),
  subscriptionId: 7,
  portalId: PORTAL_ID,
  appId: 54321,
  occurredAt: Date.now(),
  subscriptionType: 'contact.creation',
  attemptNumber: 0,
  objectId: 123,
  ...over,
});

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startRapport({ env: { HUBSPOT_APP_ID: '54321', ...env } });
  await h.store.portals.upsert({ portal: `hubspot:${PORTAL_ID}`, crm: 'hubspot', externalId: String(PORTAL_ID), baseUrl: 'http://x', scopes: [] });
  return h;
}

const v1 = (body: string) => ({ 'content-type': 'application/json', 'x-hubspot-signature-version': 'v1', 'x-hubspot-signature': signV1({ clientSecret: CLIENT_SECRET, body }) });
const v2 = (h: Harness, body: string) => ({
  'content-type': 'application/json',
  'x-hubspot-signature-version': 'v2',
  'x-hubspot-signature': signV2({ clientSecret: CLIENT_SECRET, method: 'POST', uri: h.config.publicUrl + PATH, body }),
});
const v3 = (h: Harness, body: string, ts = Date.now(), secret = CLIENT_SECRET) => ({
  'content-type': 'application/json',
  'x-hubspot-request-timestamp': String(ts),
  'x-hubspot-signature-v3': signV3({ clientSecret: secret, method: 'POST', uri: h.config.publicUrl + PATH, body, timestamp: ts }),
});

describe('webhook signatures: v3 required (issue 15 item 5)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  it('a v1-only or v2-only delivery is refused (401 legacy_signature) and nudges nothing', async () => {
    const body = JSON.stringify([event()]);
    for (const headers of [v1(body), v2(h, body)]) {
      const res = await fetch(h.url + PATH, { method: 'POST', headers, body });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'legacy_signature' });
    }
    await settle();
    expect(h.nudges).toEqual([]);
    const metrics = await (await fetch(`${h.operatorUrl}/metrics`)).text();
    expect(metrics).toContain('rapport_webhook_rejections_total{crm="hubspot",reason="legacy_signature"} 2');
  });

  it('v3 with v1 alongside (what HubSpot sends) is accepted', async () => {
    const body = JSON.stringify([event()]);
    const res = await fetch(h.url + PATH, { method: 'POST', headers: { ...v1(body), ...v3(h, body) }, body });
    expect(res.status).toBe(200);
    await settle();
    expect(h.nudges).toEqual([{ portal: `hubspot:${PORTAL_ID}`, types: ['contacts'] }]);
  });

  it('held: forged, wrong-secret, stale and future v3 signatures are refused', async () => {
    h.nudges.length = 0;
    const body = JSON.stringify([event()]);
    const cases: Record<string, string>[] = [
      { ...v3(h, body), 'x-hubspot-signature-v3': 'AAAA' },
      v3(h, body, Date.now(), 'another-secret'),
      v3(h, body, Date.now() - 6 * 60_000),
      v3(h, body, Date.now() + 6 * 60_000),
      { ...v3(h, body), 'x-hubspot-request-timestamp': 'NaN' },
    ];
    for (const headers of cases) expect((await fetch(h.url + PATH, { method: 'POST', headers, body })).status).toBe(401);
    // signed for one body, delivered with another
    expect((await fetch(h.url + PATH, { method: 'POST', headers: v3(h, body), body: body.replace('123', '124') })).status).toBe(401);
    await settle();
    expect(h.nudges).toEqual([]);
  });

  it('held: a replayed delivery is acknowledged but deduplicated (one nudge)', async () => {
    h.nudges.length = 0;
    const body = JSON.stringify([event({ subscriptionType: 'deal.creation' })]);
    const headers = v3(h, body);
    for (let i = 0; i < 3; i++) expect((await fetch(h.url + PATH, { method: 'POST', headers, body })).status).toBe(200);
    await settle();
    expect(h.nudges).toHaveLength(1);
  });

  it('held: oversized bodies (declared or chunked) with fresh signature headers get 413 without being read whole', async () => {
    const signed = v3(h, 'whatever');
    const big = await streamingPost(h.url + PATH, { ...signed, 'content-length': String(2 * WEBHOOK_BODY_LIMIT) }, 2 * WEBHOOK_BODY_LIMIT);
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toEqual({ error: 'too_large' });
    const chunked = await streamingPost(h.url + PATH, signed, 64 * 1024 * 1024);
    expect(chunked.status).toBe(413);
    expect(chunked.sentAtResponse).toBeLessThan(32 * 1024 * 1024);
  });

  it('an unsigned upload is refused (401) on its headers, before any of it is read (as the card API)', async () => {
    const unsigned = await streamingPost(h.url + PATH, { 'content-type': 'application/json' }, 64 * 1024 * 1024);
    expect(unsigned.status).toBe(401);
    expect(JSON.parse(unsigned.body)).toEqual({ error: 'missing_signature' });
    expect(unsigned.sentAtResponse).toBeLessThan(32 * 1024 * 1024);
  });

  it('held: deep nesting and non-event JSON are a 400, not a crash', async () => {
    for (const body of ['['.repeat(100_000) + ']'.repeat(100_000), '{"__proto__":{"polluted":1}}', '[{"eventId":"1"}]', 'null', '[]']) {
      const res = await fetch(h.url + PATH, { method: 'POST', headers: v3(h, body), body });
      expect([400]).toContain(res.status);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('held: events of unknown portals are acknowledged, counted and nudge nothing', async () => {
    h.nudges.length = 0;
    const body = JSON.stringify([event({ portalId: 999_999 })]);
    expect((await fetch(h.url + PATH, { method: 'POST', headers: v3(h, body), body })).status).toBe(200);
    await settle();
    expect(h.nudges).toEqual([]);
  });
});

describe('HUBSPOT_LEGACY_SIGNATURES=true', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ HUBSPOT_LEGACY_SIGNATURES: 'true' });
  });
  afterAll(async () => h.close());

  it('accepts v1 and v2 signatures without v3, and still refuses a bad one', async () => {
    const b1 = JSON.stringify([event()]);
    expect((await fetch(h.url + PATH, { method: 'POST', headers: v1(b1), body: b1 })).status).toBe(200);
    const b2 = JSON.stringify([event({ subscriptionType: 'ticket.creation' })]);
    expect((await fetch(h.url + PATH, { method: 'POST', headers: v2(h, b2), body: b2 })).status).toBe(200);
    expect((await fetch(h.url + PATH, { method: 'POST', headers: { ...v1(b1), 'x-hubspot-signature': 'a'.repeat(64) }, body: b1 })).status).toBe(401);
    await settle();
    expect(h.nudges.map((n) => n.types).flat().sort()).toEqual(['contacts', 'tickets']);
  });

  it('the setting is validated', async () => {
    const { loadConfig } = await import('../../src/config.ts');
    expect(() => loadConfig({ HUBSPOT_LEGACY_SIGNATURES: 'maybe' }, '/nonexistent.json')).toThrow(/HUBSPOT_LEGACY_SIGNATURES must be true or false/);
    expect(loadConfig({}, '/nonexistent.json').hubspot.legacySignatures).toBe(false);
  });
});
