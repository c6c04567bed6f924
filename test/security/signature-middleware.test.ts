/**
 * Issue 12: ONE HubSpot signature middleware (src/connectors/hubspot/signature.ts) guards both the
 * webhook receiver and the card API. Each failure path is sent to both routes of one real server
 * and must be refused with the same reason code: the webhook says it in its body, the card API
 * in its log line (its body only says "unauthorized"). Then the middleware alone, on a bare hono
 * app: the raw body reaches the route once, and each refusal has its code and status.
 */
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubspotSignature, signV3, SIGNED_BODY_LIMIT, type SignatureRejection, type SignedRequestEnv } from '../../src/connectors/hubspot/signature.ts';
import { CLIENT_SECRET, startRapport, type Harness } from '../unit/server/harness.ts';
import { seedTwoPortals } from './support.ts';

const WEBHOOK = '/webhooks/hubspot';
const CARD = '/api/cards/contacts/101/rescore?portalId=62515';

type Case = { name: string; reason: SignatureRejection; status: number; headers(uri: string, body: string): Record<string, string>; body?: string };

const signed = (uri: string, body: string, o: { ts?: number; secret?: string } = {}): Record<string, string> => {
  const ts = o.ts ?? Date.now();
  return { 'x-hubspot-request-timestamp': String(ts), 'x-hubspot-signature-v3': signV3({ clientSecret: o.secret ?? CLIENT_SECRET, method: 'POST', uri, body, timestamp: ts }) };
};

const CASES: Case[] = [
  { name: 'missing signature header', reason: 'missing_signature', status: 401, headers: () => ({}) },
  { name: 'missing timestamp header', reason: 'bad_timestamp', status: 401, headers: (u, b) => ({ 'x-hubspot-signature-v3': signed(u, b)['x-hubspot-signature-v3'] ?? '' }) },
  { name: 'stale timestamp (6 minutes old)', reason: 'stale_timestamp', status: 401, headers: (u, b) => signed(u, b, { ts: Date.now() - 6 * 60_000 }) },
  { name: 'wrong secret', reason: 'bad_signature', status: 401, headers: (u, b) => signed(u, b, { secret: 'not-the-secret' }) },
  { name: 'v1 only, legacy off', reason: 'legacy_signature', status: 401, headers: () => ({ 'x-hubspot-signature': 'a'.repeat(64) }) },
  { name: 'body over the limit', reason: 'too_large', status: 413, headers: (u, b) => signed(u, b), body: 'x'.repeat(SIGNED_BODY_LIMIT + 1) },
];

describe('one signature middleware guards the webhook receiver and the card API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startRapport();
    await seedTwoPortals(h.store);
  });
  afterAll(async () => h.close());

  for (const c of CASES) {
    it(`${c.name}: refused on both routes as ${c.reason} (${c.status})`, async () => {
      const body = c.body ?? '[]';
      const hook = await fetch(h.url + WEBHOOK, { method: 'POST', headers: { 'content-type': 'application/json', ...c.headers(h.config.publicUrl + WEBHOOK, body) }, body });
      expect(hook.status).toBe(c.status);
      expect(await hook.json()).toEqual({ error: c.reason });

      h.logLines.length = 0;
      const card = await fetch(h.url + CARD, { method: 'POST', headers: { 'content-type': 'application/json', ...c.headers(h.config.publicUrl + CARD, body) }, body });
      expect(card.status).toBe(c.status);
      expect(((await card.json()) as { error: { code: string } }).error.code).toBe(c.status === 413 ? 'bad_request' : 'unauthorized');
      const refusals = h.logLines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.msg === 'card request refused');
      expect(refusals.map((l) => l.reason)).toEqual([c.reason]);
    });
  }

  it('the card API accepts no v1/v2 signature even with HUBSPOT_LEGACY_SIGNATURES on (a card fetch always signs v3); the webhook does', async () => {
    const legacy = await startRapport({ env: { HUBSPOT_LEGACY_SIGNATURES: 'true' } });
    try {
      const { signV1 } = await import('../../src/connectors/hubspot/signature.ts');
      const body = '{}';
      const headers = { 'content-type': 'application/json', 'x-hubspot-signature-version': 'v1', 'x-hubspot-signature': signV1({ clientSecret: CLIENT_SECRET, body }) };
      expect((await fetch(legacy.url + CARD, { method: 'POST', headers, body })).status).toBe(401);
      // signature accepted; the body is no event list
      expect((await fetch(legacy.url + WEBHOOK, { method: 'POST', headers, body })).status).toBe(400);
    } finally {
      await legacy.close();
    }
  });
});

describe('the middleware alone', () => {
  const now = 1_700_000_000_000;
  const uri = 'https://rapport.test/hook?x=1';
  const seen: Uint8Array[] = [];
  const app = new Hono<SignedRequestEnv>();
  app.post(
    '/hook',
    hubspotSignature({ clientSecret: CLIENT_SECRET, publicUrl: 'https://rapport.test', now: () => now, bodyLimit: 64, onReject: (c, reason, status) => c.json({ error: reason }, status) }),
    (c) => {
      seen.push(c.get('rawBody'));
      return c.json({ version: c.get('signatureVersion') });
    },
  );
  const post = (body: string, headers: Record<string, string>) => app.request('/hook?x=1', { method: 'POST', body, headers });

  it('hands the exact raw bytes to the route once verified', async () => {
    const body = '{"é":1}';
    const res = await post(body, { 'x-hubspot-request-timestamp': String(now), 'x-hubspot-signature-v3': signV3({ clientSecret: CLIENT_SECRET, method: 'POST', uri, body, timestamp: now }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: 'v3' });
    expect(Buffer.from(seen[0] ?? []).toString('utf8')).toBe(body);
  });

  it('refuses with a code, closes the connection when the body was not read, and never calls the route', async () => {
    seen.length = 0;
    const noSecret = new Hono().post('/', hubspotSignature({ clientSecret: undefined, now: () => now, onReject: (c, reason, status) => c.json({ error: reason }, status) }), (c) => c.text('reached'));
    const r1 = await noSecret.request('/', { method: 'POST', body: '{}' });
    expect([r1.status, await r1.json()]).toEqual([503, { error: 'no_secret' }]);
    const r2 = await post('{}', { 'x-hubspot-request-timestamp': String(now - 301_000), 'x-hubspot-signature-v3': 'x' });
    expect([r2.status, await r2.json(), r2.headers.get('connection')]).toEqual([401, { error: 'stale_timestamp' }, 'close']);
    const big = 'y'.repeat(65);
    const r3 = await post(big, { 'x-hubspot-request-timestamp': String(now), 'x-hubspot-signature-v3': signV3({ clientSecret: CLIENT_SECRET, method: 'POST', uri, body: big, timestamp: now }) });
    expect([r3.status, await r3.json()]).toEqual([413, { error: 'too_large' }]);
    const r4 = await post('{}', { 'x-hubspot-request-timestamp': 'soon', 'x-hubspot-signature-v3': 'x' });
    expect([r4.status, await r4.json()]).toEqual([401, { error: 'bad_timestamp' }]);
    expect(seen).toEqual([]);
  });
});
