/**
 * The signed card API under attack: issue 15 item 9 (a path in RAPPORT_PUBLIC_URL broke every
 * valid card request), item 15 (a signed POST …/rescore could be replayed for 5 minutes; rescores
 * were unlimited) and item 14 (a rescore waited for the running sync pass), plus the cases that
 * held: forged, stale, cross-portal reads, unknown portals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardResponseSchema } from '../../src/server/card-contract.ts';
import { RESCORE_MIN_INTERVAL_MS } from '../../src/server/rescores.ts';
import { scores } from '../unit/cards/fixtures.ts';
import { startRapport, type Harness } from '../unit/server/harness.ts';
import { cardHeaders, seedTwoPortals } from './support.ts';

const PUBLIC = 'https://crm-tools.example.com/rapport';
const A = 'hubspot:62515';

describe('card API behind https://host/rapport (item 9) and the held cases', () => {
  let h: Harness;
  const t = Date.now();
  beforeAll(async () => {
    h = await startRapport({ publicUrl: PUBLIC, now: () => t });
    await seedTwoPortals(h.store);
  });
  afterAll(async () => h.close());

  const get = (pathAndQuery: string, o: { signedOver?: string; now?: number; secret?: string } = {}) =>
    fetch(`${h.url}${pathAndQuery}`, { headers: cardHeaders({ method: 'GET', publicUrl: o.signedOver ?? PUBLIC, pathAndQuery, now: o.now ?? t, ...(o.secret === undefined ? {} : { secret: o.secret }) }) });

  it('a request HubSpot signed over the prefixed public URL is accepted; one signed without the prefix is not', async () => {
    const ok = await get('/api/cards/contacts/101?portalId=62515');
    expect(ok.status).toBe(200);
    expect(cardResponseSchema.parse(await ok.json()).state).toBe('scored');
    expect((await get('/api/cards/contacts/101?portalId=62515', { signedOver: 'https://crm-tools.example.com' })).status).toBe(401);
  });

  it('held: forged, wrong-secret, stale and future signatures → 401 with no data', async () => {
    const path = '/api/cards/contacts/101?portalId=62515';
    for (const res of [
      await fetch(`${h.url}${path}`, { headers: { 'x-hubspot-signature-v3': 'AAAA', 'x-hubspot-request-timestamp': String(t) } }),
      await fetch(`${h.url}${path}`),
      await get(path, { secret: 'not-the-secret' }),
      await get(path, { now: t - 6 * 60_000 }),
      await get(path, { now: t + 6 * 60_000 }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('72');
    }
  });

  it('held: another portal\'s contact, an unknown portal, conflicting portal ids and odd ids → 404/400 and nothing leaks', async () => {
    const cross = await get('/api/cards/contacts/201?portalId=62515');
    expect(cross.status).toBe(404);
    expect(await cross.text()).not.toMatch(/11|red/);
    expect((await get('/api/cards/contacts/101?portalId=99999')).status).toBe(404);
    expect((await get('/api/cards/contacts/101?portalId=123456')).status).toBe(404);
    expect((await get('/api/cards/contacts/101?portalId=62515&portalId=99999')).status).toBe(400);
    expect((await get('/api/cards/contacts/101?portalId=1%20OR%201=1')).status).toBe(400);
    expect((await get(`/api/cards/contacts/${encodeURIComponent("101' OR '1'='1")}?portalId=62515`)).status).toBe(404);
  });
});

describe('"Rescore now": replays, limits and slow passes (items 14, 15)', () => {
  let h: Harness;
  let t = Date.now();
  const calls: string[] = [];
  let release: (() => void) | undefined;
  let stall = false;
  let failNext = false;
  beforeAll(async () => {
    h = await startRapport({
      now: () => t,
      rescore: async (portal, contactId) => {
        calls.push(`${portal}/${contactId}`);
        if (stall) await new Promise<void>((r) => (release = r));
        if (failNext) throw new Error('sync pass failed');
        await h.store.saveScores(portal, [{ properties: {}, scores: scores(contactId, t, { sat: 90 }) }], { clearIds: [], readAt: 0, volatile: [] });
      },
    });
    await seedTwoPortals(h.store);
  });
  afterAll(async () => {
    release?.();
    await h.close();
  });

  const post = (path: string, headers = cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: path, body: '{}', now: t })) =>
    fetch(`${h.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(10_000) });
  const read = async (path: string) => {
    const res = await fetch(`${h.url}${path}`, { headers: cardHeaders({ method: 'GET', publicUrl: h.config.publicUrl, pathAndQuery: path, now: t }) });
    return cardResponseSchema.parse(await res.json());
  };

  it('a signed POST replayed within its 5-minute window is refused: three replays, one rescore (item 15)', async () => {
    const path = '/api/cards/contacts/101/rescore?portalId=62515';
    const headers = cardHeaders({ method: 'POST', publicUrl: h.config.publicUrl, pathAndQuery: path, body: '{}', now: t });
    expect((await post(path, headers)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const again = await post(path, headers);
      expect(again.status).toBe(401);
    }
    expect(calls).toEqual([`${A}/101`]);
  });

  it('one rescore per contact per 30 s: a second request answers with the state and starts nothing (item 15)', async () => {
    calls.length = 0;
    t += 1000;
    const path = '/api/cards/contacts/101/rescore?portalId=62515';
    const res = await post(path); // freshly signed, not a replay
    expect(res.status).toBe(200);
    expect(cardResponseSchema.parse(await res.json()).state).toBe('scored');
    expect(calls).toEqual([]);
    t += RESCORE_MIN_INTERVAL_MS;
    expect((await post(path)).status).toBe(200);
    expect(calls).toEqual([`${A}/101`]);
  });

  it('a rescore stuck behind a sync pass answers at once from the cache with "running"; the card polls to the result (item 14)', async () => {
    calls.length = 0;
    t += RESCORE_MIN_INTERVAL_MS;
    stall = true;
    const path = '/api/cards/contacts/102/rescore?portalId=62515';
    const t0 = performance.now();
    const res = await post(path);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ state: 'not_scored', contactId: '102', rescore: 'running' });
    expect(await read('/api/cards/contacts/102?portalId=62515')).toEqual({ state: 'not_scored', contactId: '102', rescore: 'running' });
    // a second click while it runs starts nothing and says "running"
    t += 1000;
    expect(await (await post(path)).json()).toMatchObject({ rescore: 'running' });
    expect(calls).toEqual([`${A}/102`]);
    stall = false;
    release?.();
    await new Promise((r) => setTimeout(r, 50));
    const done = await read('/api/cards/contacts/102?portalId=62515');
    expect(done).toMatchObject({ state: 'scored' });
    expect(done).not.toHaveProperty('rescore');
  });

  it('a rescore failing after the answer shows as "failed" on the next read', async () => {
    t += RESCORE_MIN_INTERVAL_MS;
    stall = true;
    failNext = true;
    const path = '/api/cards/contacts/101/rescore?portalId=62515';
    expect(await (await post(path)).json()).toMatchObject({ state: 'scored', rescore: 'running' });
    stall = false;
    release?.();
    await new Promise((r) => setTimeout(r, 50));
    failNext = false;
    expect(await read('/api/cards/contacts/101?portalId=62515')).toMatchObject({ state: 'scored', rescore: 'failed' });
  });

  it('the preview\'s rescore shares the limit (one per contact per 30 s)', async () => {
    calls.length = 0;
    t += RESCORE_MIN_INTERVAL_MS;
    const url = `${h.operatorUrl}/preview/api/cards/contacts/101/rescore?portal=${A}`;
    const origin = new URL(h.operatorUrl).origin;
    for (let i = 0; i < 5; i++) expect((await fetch(url, { method: 'POST', headers: { origin } })).status).toBe(200);
    expect(calls).toEqual([`${A}/101`]);
  });
});
