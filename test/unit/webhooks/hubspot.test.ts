import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.ts';
import { createHubspotWebhookHandler, FLUSH_INTERVAL_MS, hubspotEventSchema, recordsForAssociationChange, streamsForEvent } from '../../../src/connectors/hubspot/notifications.ts';
import { decodeSignedUri, signV1, signV3, verifyHubspotSignature } from '../../../src/connectors/hubspot/signature.ts';
import { createPortalStatusCache, forgettingWrites } from '../../../src/server/portal-status.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { CLIENT_SECRET, settle, startRapport, type Harness } from '../server/harness.ts';

const PORTAL_ID = 62515;
const OTHER_PORTAL_ID = 777001;
const PATH = '/webhooks/hubspot';

let nextEventId = 1;
const event = (over: Record<string, unknown> = {}) => ({
  eventId: nextEventId++,
  subscriptionId: 12345,
  portalId: PORTAL_ID,
  appId: 54321,
  occurredAt: Date.now(),
  subscriptionType: 'contact.propertyChange',
  attemptNumber: 0,
  objectId: 123,
  propertyName: 'firstname',
  propertyValue: 'Ada',
  changeSource: 'CRM',
  ...over,
});

describe('HubSpot signatures (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation test vectors)', () => {
  const body =
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]';

  it('computes the documented v1 and v3 values', () => {
    expect(signV1({ clientSecret: CLIENT_SECRET, body })).toBe('232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de');
    expect(
      signV3({ clientSecret: CLIENT_SECRET, method: 'POST', uri: 'https://www.example.com/webhook_uri', body, timestamp: 1700000000000 }),
    ).toBe('/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE=');
  });

  it('decodes only the escapes HubSpot decodes before signing', () => {
    expect(decodeSignedUri('https://x.test/a%3Ab%2Fc%3Fd%40e%21%24%27%28%29%2A%2C%3B?q=%20%3a')).toBe("https://x.test/a:b/c?d@e!$'()*,;?q=%20:");
  });

  it('accepts v3 within 5 minutes, refuses stale, future and forged ones', () => {
    const ts = 1700000000000;
    const sig = signV3({ clientSecret: CLIENT_SECRET, method: 'POST', uri: 'https://www.example.com/webhook_uri', body, timestamp: ts });
    const check = (now: number, s = sig, secret = CLIENT_SECRET) =>
      verifyHubspotSignature({
        header: (n) => ({ 'x-hubspot-signature-v3': s, 'x-hubspot-request-timestamp': String(ts) })[n],
        method: 'POST',
        uri: 'https://www.example.com/webhook_uri',
        body: Buffer.from(body),
        clientSecret: secret,
        now,
      });
    expect(check(ts + 299_000)).toEqual({ ok: true, version: 'v3' });
    expect(check(ts + 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(check(ts - 301_000)).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(check(ts, sig, 'other-secret')).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check(ts, 'AAAA')).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check(ts, sig, '')).toEqual({ ok: false, reason: 'no_secret' });
  });
});

describe('which streams an event concerns', () => {
  const streams = (over: Record<string, unknown>) => streamsForEvent(hubspotEventSchema.parse(event(over)));
  it('maps legacy, generic and association events onto our streams', () => {
    expect(streams({ subscriptionType: 'contact.creation' })).toEqual(['contacts']);
    expect(streams({ subscriptionType: 'deal.deletion' })).toEqual(['deals']);
    // a merge (the app subscribes to <object>.merge): the survivor's pass tombstones the loser
    expect(streams({ subscriptionType: 'contact.merge', primaryObjectId: 1, mergedObjectIds: [2] })).toEqual(['contacts']);
    expect(streams({ subscriptionType: 'company.merge' })).toEqual(['companies']);
    expect(streams({ subscriptionType: 'object.creation', objectTypeId: '0-48' })).toEqual(['calls']);
    expect(streams({ subscriptionType: 'object.creation', objectTypeId: '0-19' })).toEqual(['feedback_submissions']);
    expect(streams({ subscriptionType: 'object.propertyChange', objectTypeId: '0-5' })).toEqual(['tickets']);
    expect(streams({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_COMPANY' })).toEqual(['contacts', 'companies']);
    expect(
      streams({ subscriptionType: 'object.associationChange', objectTypeId: '0-48', associationType: 'CALL_TO_CONTACT', fromObjectTypeId: '0-48', toObjectTypeId: '0-1' }),
    ).toEqual(['calls']);
    // links to contacts live on the other record: a contact pass would only re-read its lookback
    expect(streams({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_DEAL' })).toEqual(['deals']);
    expect(streams({ subscriptionType: 'object.associationChange', objectTypeId: '0-19', associationType: 'FEEDBACK_SUBMISSION_TO_CONTACT' })).toEqual(['feedback_submissions']);
    expect(streams({ subscriptionType: 'object.creation', objectTypeId: '2-143967026' })).toEqual([]);
    expect(streams({ subscriptionType: 'product.creation' })).toEqual([]);
    expect(streams({ subscriptionType: 'constructor.associationChange', associationType: '__proto___TO_toString', objectTypeId: 'constructor' })).toEqual([]);
    expect(streams({ subscriptionType: 'object.creation', objectTypeId: 'hasOwnProperty' })).toEqual([]);
  });
});

describe('association changes re-read the records that hold the link (issue 13)', () => {
  const records = (over: Record<string, unknown>) => recordsForAssociationChange(hubspotEventSchema.parse(event(over)));
  it('names the side(s) whose cached link changed, from either direction’s event', () => {
    expect(records({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_COMPANY', fromObjectId: 1, toObjectId: 2 })).toEqual([
      { type: 'contacts', id: '1' },
      { type: 'companies', id: '2' },
    ]);
    expect(records({ subscriptionType: 'object.associationChange', objectTypeId: '0-48', associationType: 'CALL_TO_CONTACT', fromObjectId: 9, toObjectId: 1, fromObjectTypeId: '0-48', toObjectTypeId: '0-1' })).toEqual([
      { type: 'calls', id: '9' },
    ]);
    // the reverse event of the same change names the same record
    expect(records({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_CALL', fromObjectId: 1, toObjectId: 9 })).toEqual([{ type: 'calls', id: '9' }]);
    expect(records({ subscriptionType: 'contact.propertyChange' })).toEqual([]);
    expect(records({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_PRODUCT', fromObjectId: 1, toObjectId: 9 })).toEqual([]);
  });
});

describe('POST /webhooks/hubspot over HTTP', () => {
  let h: Harness;
  // what the receiver remembered, read from the file by a connection of the test's own
  const rows = () => {
    const db = new Database(h.dbPath, { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM webhook_events').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  function signed(body: string, o: { ts?: number; secret?: string; method?: string } = {}): RequestInit {
    const ts = o.ts ?? Date.now();
    const method = o.method ?? 'POST';
    return {
      method,
      headers: {
        'content-type': 'application/json',
        'x-hubspot-request-timestamp': String(ts),
        'x-hubspot-signature-v3': signV3({ clientSecret: o.secret ?? CLIENT_SECRET, method, uri: h.config.publicUrl + PATH, body, timestamp: ts }),
        'x-hubspot-signature-version': 'v1',
        'x-hubspot-signature': signV1({ clientSecret: o.secret ?? CLIENT_SECRET, body }),
      },
      body,
    };
  }
  const post = (init: RequestInit) => fetch(h.url + PATH, init);

  beforeAll(async () => {
    h = await startRapport({ env: { HUBSPOT_APP_ID: '54321' } });
    for (const id of [PORTAL_ID, OTHER_PORTAL_ID]) {
      await h.store.portals.upsert({ portal: `hubspot:${id}`, crm: 'hubspot', externalId: String(id), baseUrl: 'http://unused', scopes: [] });
    }
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    h.nudges.length = 0;
    h.refreshes.length = 0;
  });

  it('acknowledges a signed delivery and then nudges each portal once with the concerned streams', async () => {
    const body = JSON.stringify([
      event({ subscriptionType: 'contact.propertyChange' }),
      event({ subscriptionType: 'object.creation', objectTypeId: '0-48', objectId: 9001 }),
      event({ subscriptionType: 'object.creation', objectTypeId: '0-48', objectId: 9002 }),
      event({ subscriptionType: 'deal.creation' }),
      event({ subscriptionType: 'object.creation', objectTypeId: '0-19', portalId: OTHER_PORTAL_ID }),
    ]);
    const res = await post(signed(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 5 });
    await settle();
    expect(h.nudges).toHaveLength(2);
    const byPortal = Object.fromEntries(h.nudges.map((n) => [n.portal, [...n.types].sort()]));
    expect(byPortal).toEqual({ [`hubspot:${PORTAL_ID}`]: ['calls', 'contacts', 'deals'], [`hubspot:${OTHER_PORTAL_ID}`]: ['feedback_submissions'] });
    expect(rows()).toBe(5);
  });

  it('dedupes a backlog larger than one turn’s share over several turns, losing none', async () => {
    const before = rows();
    const body = JSON.stringify(Array.from({ length: 1000 }, () => event({ subscriptionType: 'contact.creation' })));
    expect((await post(signed(body))).status).toBe(200);
    for (let i = 0; i < 5; i++) await settle();
    expect(rows()).toBe(before + 1000);
    expect(h.nudges.length).toBeGreaterThan(0);
  });

  it('answers before it nudges (the nudge runs after the response is produced)', async () => {
    const calls: string[] = [];
    const handler = createHubspotWebhookHandler({
      store: h.store,
      clientSecret: CLIENT_SECRET,
      publicUrl: h.config.publicUrl,
      now: Date.now,
      nudge: (portal) => void calls.push(portal),
      logger: silentLogger,
    });
    const app = new Hono().post(PATH, (c) => handler.handle(c));
    const body = JSON.stringify([event({ subscriptionType: 'contact.creation' })]);
    const res = await app.request(h.config.publicUrl + PATH, signed(body));
    expect(res.status).toBe(200);
    expect(calls).toEqual([]);
    await settle();
    expect(calls).toEqual([`hubspot:${PORTAL_ID}`]);
  });

  it('group commit: deliveries in quick succession share dedupe transactions at least FLUSH_INTERVAL_MS apart, losing none', async () => {
    const flushes: number[] = [];
    const nudged: string[] = [];
    const store: Pick<Store, 'portals' | 'webhookEvents'> = {
      portals: h.store.portals,
      webhookEvents: {
        ...h.store.webhookEvents,
        rememberAll: (events) => {
          flushes.push(performance.now());
          return h.store.webhookEvents.rememberAll(events);
        },
      },
    };
    const handler = createHubspotWebhookHandler({ store, clientSecret: CLIENT_SECRET, publicUrl: h.config.publicUrl, now: Date.now, nudge: (p) => void nudged.push(p), logger: silentLogger });
    // over a socket: each request is a turn of the event loop of its own, as in production
    const server = serve({ fetch: new Hono().post(PATH, (c) => handler.handle(c)).fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
    const before = rows();
    for (let i = 0; i < 30; i++) {
      const body = JSON.stringify([event({ subscriptionType: 'contact.creation' }), event({ subscriptionType: 'deal.creation' })]);
      expect((await fetch(url, signed(body))).status).toBe(200);
    }
    for (let i = 0; i < 3; i++) await settle();
    await new Promise((r) => server.close(r));
    expect(rows()).toBe(before + 60);
    expect(handler.stats().outcomes).toMatchObject({ nudged: 60 });
    expect(flushes.length).toBeGreaterThan(0);
    expect(flushes.length).toBeLessThan(30);
    // (Node's timers count from the event loop's cached clock: a timer may fire up to a millisecond early)
    for (let i = 1; i < flushes.length; i++) expect(flushes[i]! - flushes[i - 1]!).toBeGreaterThanOrEqual(FLUSH_INTERVAL_MS - 2);
    expect(new Set(nudged)).toEqual(new Set([`hubspot:${PORTAL_ID}`]));
  });

  describe('a slow dedupe: one flush at a time, a bounded backlog, nothing lost', () => {
    /** A store whose first rememberAll waits for `release()`; every call's events recorded. */
    function stalledStore() {
      const calls: string[][] = [];
      let release = () => {};
      const gate = new Promise<void>((r) => (release = r));
      const store: Pick<Store, 'portals' | 'webhookEvents'> = {
        portals: h.store.portals,
        webhookEvents: {
          ...h.store.webhookEvents,
          rememberAll: async (events) => {
            calls.push(events.map((e) => e.eventId));
            if (calls.length === 1) await gate;
            return h.store.webhookEvents.rememberAll(events);
          },
        },
      };
      return { store, calls, release: () => release() };
    }
    function receiver(store: Pick<Store, 'portals' | 'webhookEvents'>, maxQueuedEvents?: number) {
      const nudged: string[] = [];
      const warnings: string[] = [];
      const logger = { ...silentLogger, warn: (_f: Record<string, unknown>, msg: string) => void warnings.push(msg) };
      logger.child = () => logger;
      const handler = createHubspotWebhookHandler({
        store,
        clientSecret: CLIENT_SECRET,
        publicUrl: h.config.publicUrl,
        now: Date.now,
        nudge: (p) => void nudged.push(p),
        logger,
        ...(maxQueuedEvents === undefined ? {} : { maxQueuedEvents }),
      });
      const app = new Hono().post(PATH, (c) => handler.handle(c));
      const deliver = async (...events: object[]) => expect((await app.request(h.config.publicUrl + PATH, signed(JSON.stringify(events)))).status).toBe(200);
      return { deliver, nudged, warnings, stats: handler.stats };
    }
    const key = (e: { subscriptionId: unknown; eventId: unknown }) => `${String(e.subscriptionId)}:${String(e.eventId)}`;

    it('deliveries acknowledged while a dedupe statement is pending go in the next one, together, after it', async () => {
      const { store, calls, release } = stalledStore();
      const r = receiver(store);
      await r.deliver(event({ subscriptionType: 'contact.creation' }));
      await settle();
      expect(calls).toHaveLength(1);
      const later = [event({ subscriptionType: 'contact.creation' }), event({ subscriptionType: 'deal.creation' }), event({ subscriptionType: 'contact.creation' })];
      for (const e of later) {
        await r.deliver(e);
        await settle();
      }
      // the old receiver started a statement per interval, each holding its events until the database answered
      expect(calls).toHaveLength(1);
      release();
      for (let i = 0; i < 3; i++) await settle();
      expect(calls).toEqual([calls[0], later.map(key)]);
      expect(r.stats().outcomes).toMatchObject({ nudged: 4 });
      expect(r.warnings).toEqual([]);
    });

    it('past maxQueuedEvents the events are nudged without a dedupe (a warning, once), and none is lost', async () => {
      const { store, calls, release } = stalledStore();
      const r = receiver(store, 2);
      await r.deliver(event({ subscriptionType: 'contact.creation' }));
      await settle();
      const queued = [event({ subscriptionType: 'contact.creation' }), event({ subscriptionType: 'contact.creation' })];
      const past = [event({ portalId: OTHER_PORTAL_ID, subscriptionType: 'deal.creation' }), event({ subscriptionType: 'contact.creation' })];
      await r.deliver(...queued, ...past);
      await settle();
      expect(r.warnings).toEqual(['webhook dedupe backlog full (the database is slow): nudging without dedupe until it drains']);
      release();
      for (let i = 0; i < 3; i++) await settle();
      // the second statement has the two queued events only; the two past the bound were nudged without one
      expect(calls).toEqual([calls[0], queued.map(key)]);
      expect(r.stats().outcomes).toMatchObject({ nudged: 5 });
      expect(new Set(r.nudged)).toEqual(new Set([`hubspot:${PORTAL_ID}`, `hubspot:${OTHER_PORTAL_ID}`]));
    });
  });

  describe('the portal-state cache (src/server/portal-status.ts): no store read per delivery, never an install missed', () => {
    const NEW_ID = 880001;
    const TTL = 5_000;
    let offset = 0;
    const now = () => Date.now() + offset;
    function receiver() {
      let reads = 0;
      const nudged: string[] = [];
      const cache = createPortalStatusCache({ portals: { get: (p) => (reads++, h.store.portals.get(p)) }, now, ttlMs: TTL });
      const handler = createHubspotWebhookHandler({
        store: { ...h.store, portals: forgettingWrites(h.store.portals, cache.forget) },
        clientSecret: CLIENT_SECRET,
        publicUrl: h.config.publicUrl,
        now,
        portalStatus: cache,
        nudge: (portal) => void nudged.push(portal),
        logger: silentLogger,
      });
      const app = new Hono().post(PATH, (c) => handler.handle(c));
      const deliver = async (portalId: number) => {
        const res = await app.request(h.config.publicUrl + PATH, signed(JSON.stringify([event({ portalId, subscriptionType: 'contact.creation' })]), { ts: now() }));
        expect(res.status).toBe(200);
        await settle();
      };
      return { deliver, nudged, reads: () => reads, stats: handler.stats, forget: cache.forget };
    }
    // "another process": its own connection to the same database file
    let other: Store;
    beforeAll(() => void (other = createStore({ path: h.dbPath, encryptionKey: h.config.encryptionKey })));
    afterAll(async () => other.close());
    beforeEach(() => void (offset = 0));

    it('past half its TTL it answers from memory while one lookup refreshes it; callers that need a lookup share one', async () => {
      let t = 0;
      const pending: Array<{ resolve: (p: unknown) => void; reject: (e: Error) => void }> = [];
      const cache = createPortalStatusCache({
        portals: { get: () => new Promise((resolve, reject) => pending.push({ resolve: resolve as (p: unknown) => void, reject })) },
        now: () => t,
        ttlMs: 1_000,
        maxStaleMs: 3_000,
      });
      const tick = () => new Promise((r) => setImmediate(r));
      // not cached: five callers, one lookup
      const first = Array.from({ length: 5 }, () => cache.state('hubspot:1'));
      expect(pending).toHaveLength(1);
      pending[0]!.resolve({ status: 'connected' });
      expect(await Promise.all(first)).toEqual(Array(5).fill('connected'));
      t = 400;
      expect(cache.state('hubspot:1')).toBe('connected');
      expect(pending).toHaveLength(1);
      // past half the TTL: answered at once (a string, not a promise), one refresh started for all
      t = 600;
      expect(cache.state('hubspot:1')).toBe('connected');
      t = 700;
      expect(cache.state('hubspot:1')).toBe('connected');
      expect(pending).toHaveLength(2);
      // the refresh outlives the TTL (a slow database): still answered from memory, no second lookup
      t = 2_500;
      expect(cache.state('hubspot:1')).toBe('connected');
      expect(pending).toHaveLength(2);
      // it finds the portal disconnected (another process): from then on callers look it up
      pending[1]!.resolve({ status: 'disconnected' });
      await tick();
      const after = cache.state('hubspot:1');
      expect(after).toBeInstanceOf(Promise);
      expect(pending).toHaveLength(3);
      pending[2]!.resolve({ status: 'disconnected' });
      expect(await after).toBe('disconnected');
      // connected again; no caller for longer than the TTL: the next one is answered from memory and refreshes
      const again = cache.state('hubspot:1');
      pending[3]!.resolve({ status: 'connected' });
      expect(await again).toBe('connected');
      t = 4_000;
      expect(cache.state('hubspot:1')).toBe('connected');
      expect(pending).toHaveLength(5);
      pending[4]!.resolve({ status: 'connected' });
      await tick();
      // past maxStaleMs without an answer: waited for, never answered from memory
      t = 7_100;
      const late = cache.state('hubspot:1');
      expect(late).toBeInstanceOf(Promise);
      expect(pending).toHaveLength(6);
      pending[5]!.resolve({ status: 'connected' });
      expect(await late).toBe('connected');
      // a refresh that fails drops the answer: the next caller waits for its own lookup and meets the error
      t = 7_700;
      expect(cache.state('hubspot:1')).toBe('connected');
      expect(pending).toHaveLength(7);
      pending[6]!.reject(new Error('database down'));
      await tick();
      const failing = cache.state('hubspot:1');
      expect(failing).toBeInstanceOf(Promise);
      pending[7]!.reject(new Error('database down'));
      await expect(failing).rejects.toThrow('database down');
    });

    it('a portal state it cannot read (the database down) gets a 5xx, which the CRM retries, and nudges nothing', async () => {
      const nudged: string[] = [];
      const handler = createHubspotWebhookHandler({
        store: h.store,
        clientSecret: CLIENT_SECRET,
        publicUrl: h.config.publicUrl,
        now,
        portalStatus: { state: () => Promise.reject(new Error('database down')) },
        nudge: (portal) => void nudged.push(portal),
        logger: silentLogger,
      });
      const app = new Hono().post(PATH, (c) => handler.handle(c));
      const res = await app.request(h.config.publicUrl + PATH, signed(JSON.stringify([event({ portalId: PORTAL_ID, subscriptionType: 'contact.creation' })]), { ts: now() }));
      expect(res.status).toBe(500);
      await settle();
      expect(nudged).toEqual([]);
      expect(handler.stats().outcomes).toEqual({});
    });

    it('reads a connected portal once per TTL, and counts an install made by another process from its next delivery', async () => {
      const r = receiver();
      for (let i = 0; i < 3; i++) await r.deliver(PORTAL_ID);
      expect(r.nudged).toEqual([`hubspot:${PORTAL_ID}`, `hubspot:${PORTAL_ID}`, `hubspot:${PORTAL_ID}`]);
      expect(r.reads()).toBe(1);
      // unknown: looked up on every delivery (an unknown answer is never kept)
      await r.deliver(NEW_ID);
      await r.deliver(NEW_ID);
      expect(r.stats().outcomes.unknown_portal).toBe(2);
      await other.portals.upsert({ portal: `hubspot:${NEW_ID}`, crm: 'hubspot', externalId: String(NEW_ID), baseUrl: 'http://unused', scopes: [] });
      // same instant, no TTL passed: the install counts at once
      await r.deliver(NEW_ID);
      expect(r.nudged.at(-1)).toBe(`hubspot:${NEW_ID}`);
    });

    it('stops nudging a portal another process disconnected once a lookup past half the TTL has answered, and at once when this process disconnects it', async () => {
      const r = receiver();
      const portal = `hubspot:${OTHER_PORTAL_ID}`;
      await r.deliver(OTHER_PORTAL_ID);
      expect(r.nudged).toEqual([portal]);
      await other.portals.markDisconnected(portal, 'auth: revoked in the test');
      // past the TTL the delivery is still answered from memory and starts the refresh; the next one sees it
      offset = TTL;
      await r.deliver(OTHER_PORTAL_ID);
      expect(r.nudged).toEqual([portal, portal]);
      await r.deliver(OTHER_PORTAL_ID);
      expect(r.nudged).toEqual([portal, portal]);
      expect(r.stats().outcomes.disconnected_portal).toBe(1);
      await other.portals.markConnected(portal);
      await r.deliver(OTHER_PORTAL_ID);
      expect(r.nudged).toEqual([portal, portal, portal]);
      // this process's own write drops the cached answer without waiting for the TTL
      await forgettingWrites(h.store.portals, r.forget).markDisconnected(portal, 'auth: revoked here');
      await r.deliver(OTHER_PORTAL_ID);
      expect(r.nudged).toEqual([portal, portal, portal]);
      await h.store.portals.markConnected(portal);
    });
  });

  it('an association change re-reads the records directly instead of nudging a search that cannot see it', async () => {
    const body = JSON.stringify([
      event({ subscriptionType: 'contact.associationChange', associationType: 'CONTACT_TO_COMPANY', objectId: 5, fromObjectId: 5, toObjectId: 6 }),
      event({ subscriptionType: 'company.associationChange', associationType: 'COMPANY_TO_CONTACT', objectId: 6, fromObjectId: 6, toObjectId: 5 }),
    ]);
    const res = await post(signed(body));
    expect(res.status).toBe(200);
    await settle();
    expect(h.nudges).toEqual([]);
    expect(h.refreshes.map((r) => [r.type, r.ids]).sort()).toEqual([
      ['companies', ['6']],
      ['contacts', ['5']],
    ]);
  });


  it('refuses a delivery signed with v1 only: v3 is required unless HUBSPOT_LEGACY_SIGNATURES is set (test/security)', async () => {
    const body = JSON.stringify([event({ subscriptionType: 'ticket.creation' })]);
    const res = await post({ method: 'POST', headers: { 'x-hubspot-signature-version': 'v1', 'x-hubspot-signature': signV1({ clientSecret: CLIENT_SECRET, body }) }, body });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'legacy_signature' });
    await settle();
    expect(h.nudges).toEqual([]);
  });

  it('drops changes to our own rapport_* properties, unknown portals and other apps, and counts them', async () => {
    const before = rows();
    const body = JSON.stringify([
      event({ propertyName: 'rapport_churn_risk', propertyValue: '71' }),
      event({ subscriptionType: 'object.propertyChange', objectTypeId: '0-1', propertyName: 'rapport_health', propertyValue: 'red' }),
      event({ portalId: 999999, subscriptionType: 'contact.creation' }),
      event({ appId: 1, subscriptionType: 'contact.creation' }),
      event({ subscriptionType: 'object.creation', objectTypeId: '2-1234' }),
    ]);
    const res = await post(signed(body));
    expect(res.status).toBe(200);
    await settle();
    expect(h.nudges).toEqual([]);
    expect(rows()).toBe(before);
    const metrics = await (await fetch(h.operatorUrl + '/metrics')).text();
    expect(metrics).toContain('rapport_webhook_events_total{crm="hubspot",outcome="own_property"} 2');
    expect(metrics).toContain('rapport_webhook_events_total{crm="hubspot",outcome="unknown_portal"} 1');
    expect(metrics).toContain('rapport_webhook_events_total{crm="hubspot",outcome="wrong_app"} 1');
    expect(metrics).toMatch(/^rapport_webhook_deliveries_total\{crm="hubspot"\} [1-9]/m);
  });

  describe('rejections: 4xx, nothing written, no nudge', () => {
    const expectNothing = async (res: Response, status: number, before: number) => {
      expect(res.status).toBe(status);
      await settle();
      expect(h.nudges).toEqual([]);
      expect(rows()).toBe(before);
    };

    it('forged signature', async () => {
      const before = rows();
      const body = JSON.stringify([event()]);
      await expectNothing(await post(signed(body, { secret: 'not-the-secret' })), 401, before);
      // a valid signature over another body
      const init = signed(JSON.stringify([event()]));
      await expectNothing(await post({ ...init, body }), 401, before);
      // no signature at all
      await expectNothing(await post({ method: 'POST', body }), 401, before);
    });

    it('stale timestamp', async () => {
      const before = rows();
      await expectNothing(await post(signed(JSON.stringify([event()]), { ts: Date.now() - 6 * 60_000 })), 401, before);
    });

    it('replayed delivery: the same events do nothing twice, and a late replay is refused', async () => {
      const body = JSON.stringify([event({ subscriptionType: 'company.creation' })]);
      const first = await post(signed(body));
      expect(first.status).toBe(200);
      await settle();
      expect(h.nudges).toHaveLength(1);
      h.nudges.length = 0;
      const before = rows();
      const again = await post(signed(body));
      await expectNothing(again, 200, before);
      const sameHeaders = signed(body, { ts: Date.now() - 5 * 60_000 - 1000 });
      await expectNothing(await post(sameHeaders), 401, before);
    });

    it('body over 1 MB, with or without a content-length', async () => {
      const before = rows();
      const big = JSON.stringify([event({ propertyValue: 'x'.repeat(1024 * 1024) })]);
      await expectNothing(await post(signed(big)), 413, before);
      const init = signed(big);
      const stream = new ReadableStream<Uint8Array>({
        start(ctrl) {
          const buf = Buffer.from(big);
          for (let i = 0; i < buf.length; i += 64 * 1024) ctrl.enqueue(buf.subarray(i, i + 64 * 1024));
          ctrl.close();
        },
      });
      await expectNothing(await post({ ...init, body: stream, duplex: 'half' } as RequestInit), 413, before);
    });

    it('malformed JSON and non-event JSON', async () => {
      const before = rows();
      await expectNothing(await post(signed('[{"eventId":1,')), 400, before);
      await expectNothing(await post(signed('{"eventId":1}')), 400, before);
      await expectNothing(await post(signed('[]')), 400, before);
      await expectNothing(await post(signed(JSON.stringify([{ ...event(), portalId: 'abc' }]))), 400, before);
    });

    it('wrong method', async () => {
      const before = rows();
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetch(h.url + PATH, method === 'GET' ? { method } : { method, body: '[]' });
        expect(res.headers.get('allow')).toBe('POST');
        await expectNothing(res, 405, before);
      }
    });
  });

  it('fuzz: 1,200 seeded random bodies and headers never get a 5xx, and only signed valid deliveries write', async () => {
    let seed = 0xc0ffee;
    const rand = () => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const randStr = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rand() * 0x2ff))).join('');
    const randJson = (depth = 0): unknown => {
      const k = Math.floor(rand() * (depth > 2 ? 4 : 7));
      if (k === 0) return Math.floor(rand() * 1e6) * (rand() < 0.5 ? -1 : 1);
      if (k === 1) return randStr(Math.floor(rand() * 20));
      if (k === 2) return pick([null, true, false]);
      if (k === 3) return rand();
      if (k === 4) return Array.from({ length: Math.floor(rand() * 4) }, () => randJson(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(['eventId', 'portalId', 'subscriptionType', 'objectTypeId', randStr(5)]), randJson(depth + 1)]));
    };
    const types = ['contact.creation', 'object.creation', 'deal.propertyChange', 'x', 'contact.propertyChange', 'object.merge', ''];
    const randEvent = () => {
      const e: Record<string, unknown> = event({
        subscriptionType: pick(types),
        portalId: rand() < 0.1 ? pick([-1, 'x', 1.5]) : pick([PORTAL_ID, OTHER_PORTAL_ID, 4242, '62515']),
        objectTypeId: pick(['0-1', '0-48', '0-19', '2-5', undefined, 7]),
        propertyName: pick(['firstname', 'rapport_loyalty', undefined, 5]),
      });
      if (rand() < 0.08) delete e[pick(['eventId', 'subscriptionId', 'subscriptionType', 'portalId'])];
      return e;
    };

    const statuses = new Map<number, number>();
    let accepted = false;
    for (let i = 0; i < 1200; i++) {
      // an accepted delivery's dedupe may still be queued (group commit): it counts as before
      if (accepted) await settle();
      const before = rows();
      const nudgesBefore = h.nudges.length;
      const kind = Math.floor(rand() * 6);
      let body: string;
      if (kind === 0) body = randStr(Math.floor(rand() * 300));
      else if (kind === 1) body = JSON.stringify(randJson());
      else body = JSON.stringify(Array.from({ length: 1 + Math.floor(rand() * 5) }, randEvent));
      let init: RequestInit;
      let mayWrite = false;
      if (kind === 3) {
        // properly signed random events: may be accepted
        init = signed(body);
        mayWrite = true;
      } else if (kind === 4) {
        // signed, then tampered with
        init = { ...signed(body), body: body.replace(/\d/, (d) => String((Number(d) + 1) % 10)) + (rand() < 0.5 ? ' ' : '') };
      } else {
        const headers: Record<string, string> = {};
        if (rand() < 0.5) headers['x-hubspot-signature-v3'] = pick([Buffer.from(randStr(20)).toString('base64'), randStr(10), '']);
        if (rand() < 0.5) headers['x-hubspot-request-timestamp'] = pick([String(Date.now()), String(Math.floor(rand() * 1e13)), randStr(6), '-1']);
        if (rand() < 0.5) headers['x-hubspot-signature'] = pick(['a'.repeat(64), randStr(64), signV1({ clientSecret: 'wrong', body })]);
        if (rand() < 0.3) headers['x-hubspot-signature-version'] = pick(['v1', 'v2', 'v9', randStr(3)]);
        if (kind === 5 && rand() < 0.5) headers['content-type'] = randStr(8);
        const safe = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, encodeURIComponent(v)]));
        init = { method: pick(['POST', 'POST', 'POST', 'PUT', 'GET']), headers: safe };
        if (init.method !== 'GET') init.body = body;
      }
      const res = await post(init);
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect([200, 400, 401, 405, 413]).toContain(res.status);
      accepted = mayWrite && res.status === 200;
      if (!mayWrite || res.status !== 200) {
        await settle();
        expect(rows()).toBe(before);
        expect(h.nudges.length).toBe(nudgesBefore);
      }
    }
    // the generator reached every interesting branch
    expect(statuses.get(200) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(200);
    expect(statuses.get(405) ?? 0).toBeGreaterThan(20);
  });
});
