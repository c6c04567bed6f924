/** The preview routes without a browser: loopback guard, input checks, read-only API, the bundle. */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.ts';
import { cardErrorSchema, scoredCardSchema } from '../../../src/server/card-contract.ts';
import { hubspotCardPreview } from '../../../src/connectors/hubspot/card-preview.ts';
import { createPreviewRoutes } from '../../../src/server/preview.ts';
import { createRescores } from '../../../src/server/rescores.ts';
import type { Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { NOW, PORTAL_A, scores, seedStore } from './fixtures.ts';

let store: Store;
let server: ServerType;
let base: string;
const rescored: string[] = [];
let failRescore = false;

const rescore = async (portal: string, id: string) => {
  if (failRescore) throw new Error('no model');
  rescored.push(`${portal}/${id}`);
  await store.saveScores(portal, [{ properties: {}, scores: scores(id, NOW + 1000, { sat: 90 }) }], { clearIds: [], readAt: 0, volatile: [] });
};
const deps = () => ({
  store,
  now: () => NOW,
  logger: silentLogger,
  card: hubspotCardPreview(),
  rescore,
  // without the 30 s per-contact limit here (test/security/rescore-limits.test.ts covers it)
  rescores: createRescores({ rescore, now: () => NOW, logger: silentLogger, minIntervalMs: 0 }),
});

beforeAll(async () => {
  store = await seedStore();
  const app = new Hono().route('/preview', createPreviewRoutes(deps()));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/preview`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await store.close();
});

describe('preview routes', () => {
  it('refuse clients that are not on loopback (no signature here) unless allowRemote', async () => {
    // app.request has no socket: treated as remote
    const guarded = new Hono().route('/preview', createPreviewRoutes(deps()));
    const r = await guarded.request(`/preview/api/cards/contacts/101?portal=${PORTAL_A}`);
    expect(r.status).toBe(403);
    expect(await r.text()).not.toContain('72');
    const open = new Hono().route('/preview', createPreviewRoutes({ ...deps(), allowRemote: true }));
    expect((await open.request(`/preview/api/cards/contacts/101?portal=${PORTAL_A}`)).status).toBe(200);
  });

  it('serves the page for a contact, escaping nothing it did not validate', async () => {
    const r = await fetch(`${base}/contacts/101?portal=${PORTAL_A}`);
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain('data-contact-id="101"');
    expect(html).toContain(`data-portal="${PORTAL_A}"`);
    expect(html).toContain('src="../assets/card.js"');
    // it does not claim to be read-only: "Rescore now" works here (issue 11)
    expect(html).not.toContain('read-only');
    expect(html).toContain('"Rescore now" rescores this contact');
    expect((await fetch(`${base}/contacts/101`)).status).toBe(400);
    expect((await fetch(`${base}/contacts/101?portal=${encodeURIComponent('hubspot:1"><script>')}`)).status).toBe(400);
    expect((await fetch(`${base}/contacts/${encodeURIComponent('<b>')}?portal=${PORTAL_A}`)).status).toBe(404);
  });

  it('its API answers in the card contract, per portal', async () => {
    const ok = await fetch(`${base}/api/cards/contacts/101?portal=${PORTAL_A}`);
    expect(scoredCardSchema.parse(await ok.json()).contactId).toBe('101');
    const other = await fetch(`${base}/api/cards/contacts/201?portal=${PORTAL_A}`);
    expect(other.status).toBe(404);
    expect(cardErrorSchema.parse(await other.json()).error.code).toBe('not_found');
  });

  it('rescore goes through the daemon callback; a failure is a 503 and the scores stay', async () => {
    failRescore = true;
    const bad = await fetch(`${base}/api/cards/contacts/101/rescore?portal=${PORTAL_A}`, { method: 'POST', body: '{}' });
    expect(bad.status).toBe(503);
    expect((await store.scores.get(PORTAL_A, '101'))?.scoredAt).toBe(NOW - 2 * 24 * 3600 * 1000);
    failRescore = false;
    const good = await fetch(`${base}/api/cards/contacts/101/rescore?portal=${PORTAL_A}`, { method: 'POST', body: '{}' });
    expect(scoredCardSchema.parse(await good.json()).scores.satisfaction.value).toBe(90);
    expect(rescored).toEqual([`${PORTAL_A}/101`]);
    expect((await fetch(`${base}/api/cards/contacts/201/rescore?portal=${PORTAL_A}`, { method: 'POST' })).status).toBe(404);
    expect(rescored).toHaveLength(1);
  });

  it('bundles the card with the DOM components instead of HubSpot\'s remote-ui ones', async () => {
    const r = await fetch(`${base}/assets/card.js`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/javascript');
    const js = await r.text();
    expect(js).toContain('Rescore now');
    expect(js).toContain('data-testid');
    expect(js).not.toContain('No remote-ui Render instance');
  });

  it('says what to do when the card packages are not installed', async () => {
    const dir = tempDir();
    try {
      mkdirSync(join(dir.path, 'src/app/cards'), { recursive: true });
      const app = new Hono().route('/preview', createPreviewRoutes({ ...deps(), allowRemote: true, card: hubspotCardPreview(dir.path) }));
      const r = await app.request('/preview/assets/card.js');
      expect(r.status).toBe(503);
      expect(await r.text()).toMatch(/run "npm ci" in .*src\/app\/cards/);
    } finally {
      dir.cleanup();
    }
  });
});
