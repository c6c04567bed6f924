/**
 * The card API over a real HTTP server on 127.0.0.1: HubSpot v3 signatures (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation),
 * portal isolation, cache-only answers in the shared contract, rescore.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.ts';
import { cardErrorSchema, cardResponseSchema, scoredCardSchema } from '../../../src/server/card-contract.ts';
import { hubspotCardAuth } from '../../../src/connectors/hubspot/card-auth.ts';
import { signV3 as signV3o, verifyHubspotSignature } from '../../../src/connectors/hubspot/signature.ts';
import { createCardRoutes } from '../../../src/server/cards.ts';
import { createRescores } from '../../../src/server/rescores.ts';
import type { Store } from '../../../src/store/index.ts';
import { Hono } from 'hono';
import { DAY, NOW, PORTAL_A, scores, seedStore } from './fixtures.ts';

const SECRET = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';
const signV3 = (clientSecret: string, method: string, uri: string, body: string, timestamp: string) => signV3o({ clientSecret, method, uri, body, timestamp });
/** what the v3 headers say about a request, as the card API's middleware checks them */
const verifyV3 = (o: { clientSecret: string; method: string; uri: string; body: string; now: number; signature: string | undefined; timestamp: string }) =>
  verifyHubspotSignature({
    header: (n) => ({ 'x-hubspot-signature-v3': o.signature, 'x-hubspot-request-timestamp': o.timestamp })[n as 'x-hubspot-signature-v3'],
    method: o.method,
    uri: o.uri,
    body: Buffer.from(o.body),
    clientSecret: o.clientSecret,
    now: o.now,
  });
const PUBLIC = 'https://rapport.example.com';

let store: Store;
let server: ServerType;
let base: string;
let clock = NOW;
const rescored: string[] = [];
let rescoreFails = false;

beforeAll(async () => {
  store = await seedStore();
  const app = new Hono();
  const rescore = async (portal: string, contactId: string) => {
    if (rescoreFails) throw new Error('model missing');
    rescored.push(`${portal}/${contactId}`);
    await store.saveScores(portal, [{ properties: {}, scores: scores(contactId, clock, { sat: 80 }) }], { clearIds: [], readAt: 0, volatile: [] });
  };
  app.route(
    '/api/cards',
    createCardRoutes({
      store,
      auth: hubspotCardAuth({ clientSecret: SECRET, publicUrl: PUBLIC, now: () => clock }),
      now: () => clock,
      logger: silentLogger,
      rescore,
      // without the 30 s per-contact limit here (test/security/rescore-limits.test.ts covers it)
      rescores: createRescores({ rescore, now: () => clock, logger: silentLogger, minIntervalMs: 0 }),
    }),
  );
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
});

/** Sends what HubSpot's proxy would send: signed over the PUBLIC url, delivered to the local server. */
async function call(
  method: 'GET' | 'POST',
  pathAndQuery: string,
  opts: { body?: string; secret?: string; timestamp?: number; signedPath?: string; omit?: boolean } = {},
) {
  const ts = String(opts.timestamp ?? clock);
  const body = opts.body ?? '';
  const sig = signV3(opts.secret ?? SECRET, method, `${PUBLIC}${opts.signedPath ?? pathAndQuery}`, body, ts);
  const headers: Record<string, string> = opts.omit ? {} : { 'X-HubSpot-Signature-v3': sig, 'X-HubSpot-Request-Timestamp': ts };
  if (method === 'POST') headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${pathAndQuery}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as unknown, cache: res.headers.get('cache-control') };
}

describe('v3 signature helpers', () => {
  it('matches the documented v3 construction (research vector) and decodes only the listed escapes', () => {
    const body =
      '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';
    expect(signV3(SECRET, 'POST', 'https://www.example.com/webhook_uri', body, '1700000000000')).toBe('/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=');
    expect(signV3(SECRET, 'GET', 'https://x.io/a%3Ab?q=%2F%20', '', '1')).toBe(signV3(SECRET, 'GET', 'https://x.io/a:b?q=/%20', '', '1'));
  });
  it('rejects missing, stale, future and mismatched signatures', () => {
    const args = { clientSecret: SECRET, method: 'GET', uri: 'https://x.io/a', body: '', now: NOW };
    const good = signV3(SECRET, 'GET', 'https://x.io/a', '', String(NOW));
    expect(verifyV3({ ...args, signature: good, timestamp: String(NOW) })).toEqual({ ok: true, version: 'v3' });
    expect(verifyV3({ ...args, signature: undefined, timestamp: String(NOW) })).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verifyV3({ ...args, signature: good, timestamp: 'soon' })).toEqual({ ok: false, reason: 'bad_timestamp' });
    const old = NOW - 5 * 60 * 1000 - 1;
    expect(verifyV3({ ...args, signature: signV3(SECRET, 'GET', 'https://x.io/a', '', String(old)), timestamp: String(old) })).toEqual({ ok: false, reason: 'stale_timestamp' });
    const future = NOW + 10 * 60 * 1000;
    expect(verifyV3({ ...args, signature: signV3(SECRET, 'GET', 'https://x.io/a', '', String(future)), timestamp: String(future) })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(verifyV3({ ...args, signature: `${good.slice(0, -2)}A=`, timestamp: String(NOW) })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyV3({ ...args, signature: 'short', timestamp: String(NOW) })).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

describe('GET /api/cards/contacts/:id', () => {
  it('valid signature → the scored contact in the shared contract, from the cache', async () => {
    const r = await call('GET', '/api/cards/contacts/101?portalId=62515&userId=7&userEmail=rep%40x.io');
    expect(r.status).toBe(200);
    expect(r.cache).toBe('no-store');
    const card = scoredCardSchema.parse(r.json);
    expect(card.scoredAt).toBe(new Date(NOW - 2 * DAY).toISOString());
    expect(card.band).toBe('yellow');
    expect(card.modelVersion).toBe('hubspot-62515-v3');
    expect(card.scores.satisfaction).toEqual({ value: 72.4, band: 'green', confidence: 0.7, change30d: 72.4 - 60, cutoffs: { green: 70, red: 40 } });
    expect(card.dataIssues).toEqual([]);
    expect(card.likelyChannel).toBeNull();
    expect(card.scores.churnRisk.change30d).toBe(13);
    // strongest first, across scores, max 5
    expect(card.reasons.map((x) => `${x.score}:${x.impact}`)).toEqual(['churnRisk:14', 'satisfaction:9.5', 'loyalty:-4', 'satisfaction:3', 'churnRisk:2']);
  });

  it('known but unscored contact → not_scored; deleted contact → 404', async () => {
    expect(cardResponseSchema.parse((await call('GET', '/api/cards/contacts/102?portalId=62515')).json)).toEqual({ state: 'not_scored', contactId: '102' });
    const gone = await call('GET', '/api/cards/contacts/103?portalId=62515');
    expect(gone.status).toBe(404);
  });

  it('another portal\'s contact → 404 with nothing leaked (same body as a contact that does not exist)', async () => {
    const other = await call('GET', '/api/cards/contacts/201?portalId=62515');
    const none = await call('GET', '/api/cards/contacts/999?portalId=62515');
    expect(other.status).toBe(404);
    expect(other.text).toBe(none.text);
    expect(cardErrorSchema.parse(other.json).error.code).toBe('not_found');
    expect(other.text).not.toMatch(/11|red|scored/);
    // and portal B does see its own contact
    expect((await call('GET', '/api/cards/contacts/201?portalId=99999')).status).toBe(200);
  });

  it('a signature for portal B cannot be replayed for portal A (portalId is inside the signed URL)', async () => {
    const r = await call('GET', '/api/cards/contacts/101?portalId=62515', { signedPath: '/api/cards/contacts/101?portalId=99999' });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain('72');
  });

  it.each([
    ['no signature headers', { omit: true }],
    ['wrong secret', { secret: 'not-the-secret' }],
    ['stale timestamp (6 minutes old)', { timestamp: NOW - 6 * 60 * 1000 }],
  ])('%s → 401, no data', async (_l, opts) => {
    const r = await call('GET', '/api/cards/contacts/101?portalId=62515', opts);
    expect(r.status).toBe(401);
    expect(cardErrorSchema.parse(r.json).error.code).toBe('unauthorized');
    expect(r.text).not.toMatch(/satisfaction|72/);
  });

  it('missing or conflicting portalId → 400; malformed id → 404', async () => {
    expect((await call('GET', '/api/cards/contacts/101')).status).toBe(400);
    expect((await call('GET', '/api/cards/contacts/101?portalId=62515&portalId=99999')).status).toBe(400);
    expect((await call('GET', '/api/cards/contacts/1%2701?portalId=62515')).status).toBe(404);
  });

  it('disconnected portal → disconnected state, no scores', async () => {
    await store.portals.markDisconnected(PORTAL_A, 'uninstalled');
    try {
      const r = await call('GET', '/api/cards/contacts/101?portalId=62515');
      expect(r.json).toEqual({ state: 'disconnected', contactId: '101' });
    } finally {
      await store.portals.markConnected(PORTAL_A);
    }
  });
});

it('without a client secret configured, every request is refused (503), nothing served unsigned', async () => {
  const app = createCardRoutes({ store, auth: hubspotCardAuth({ clientSecret: undefined, now: () => clock }), now: () => clock, logger: silentLogger, rescore: async () => {} });
  const r = await app.request('/contacts/101?portalId=62515');
  expect(r.status).toBe(503);
  expect(cardErrorSchema.parse(await r.json()).error.code).toBe('internal');
});

describe('POST /api/cards/contacts/:id/rescore', () => {
  it('signed over the raw body: rescoring runs and the reply carries the fresh scores', async () => {
    clock = NOW + 60_000;
    const r = await call('POST', '/api/cards/contacts/101/rescore?portalId=62515', { body: '{}' });
    expect(r.status).toBe(200);
    const card = scoredCardSchema.parse(r.json);
    expect(card.scoredAt).toBe(new Date(NOW + 60_000).toISOString());
    expect(card.scores.satisfaction.value).toBe(80);
    expect(rescored).toEqual([`${PORTAL_A}/101`]);
  });

  it('body tampered after signing → 401 and no rescore', async () => {
    const before = rescored.length;
    const ts = String(clock);
    const sig = signV3(SECRET, 'POST', `${PUBLIC}/api/cards/contacts/101/rescore?portalId=62515`, '{}', ts);
    const res = await fetch(`${base}/api/cards/contacts/101/rescore?portalId=62515`, {
      method: 'POST',
      headers: { 'X-HubSpot-Signature-v3': sig, 'X-HubSpot-Request-Timestamp': ts, 'content-type': 'application/json' },
      body: '{"x":1}',
    });
    expect(res.status).toBe(401);
    expect(rescored.length).toBe(before);
  });

  it('another portal\'s contact → 404 and no rescore; a failing rescore → 503, scores kept', async () => {
    const before = rescored.length;
    expect((await call('POST', '/api/cards/contacts/201/rescore?portalId=62515', { body: '{}' })).status).toBe(404);
    expect(rescored.length).toBe(before);
    rescoreFails = true;
    clock += 1000; // a new signature: the same one again would be a replay
    try {
      const r = await call('POST', '/api/cards/contacts/101/rescore?portalId=62515', { body: '{}' });
      expect(r.status).toBe(503);
      expect(cardErrorSchema.parse(r.json).error.code).toBe('rescore_failed');
      expect((await store.scores.get(PORTAL_A, '101'))?.satisfaction.value).toBe(80);
    } finally {
      rescoreFails = false;
    }
  });
});
