import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubspotConnector } from '../../../src/connectors/hubspot/index.ts';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { createTokenManager } from '../../../src/server/tokens.ts';
import { CLIENT_SECRET, startRapport, type Harness } from './harness.ts';
import { createBrowser } from '../../support/browser.ts';

/**
 * Two OAuth-installed portals synced through the real HubSpot connector with the token manager as
 * its token provider: HubSpot expiring one portal's token in the middle of a backfill costs no
 * page (401 → refresh once → retry), and revoking the other portal disconnects only it.
 */
describe('tokens during a sync', () => {
  let hs: Awaited<ReturnType<typeof startHubspotSandbox>>;
  let h: Harness;
  const portals: string[] = [];

  beforeAll(async () => {
    hs = await startHubspotSandbox({ oauth: { clientId: 'client-id-test', clientSecret: CLIENT_SECRET, appId: 54321 }, limits: false });
    h = await startRapport({ env: { HUBSPOT_BASE_URL: hs.baseUrl } });
    for (let i = 0; i < 2; i++) {
      const browser = createBrowser();
      const start = await browser.get(`${h.url}/oauth/hubspot/install`);
      const consent = await browser.get(start.headers.get('location') ?? '');
      const done = await browser.get(consent.headers.get('location') ?? '');
      expect(done.status).toBe(200);
    }
    portals.push(...h.installed);
    for (const [n, portal] of portals.entries()) {
      const hubId = Number(portal.split(':')[1]);
      for (let i = 0; i < 120; i++) hs.sandbox.data.create(hubId, 'contacts', { email: `c${i}@p${n}.example.com`, firstname: `C${i}` });
    }
  });
  afterAll(async () => {
    await h.close();
    await hs.close();
  });

  const connectorFor = (portal: string, tm: Awaited<ReturnType<typeof createTokenManager>>) =>
    createHubspotConnector({
      basePath: hs.baseUrl,
      accessToken: () => tm.accessToken(portal),
      onUnauthorized: () => tm.onUnauthorized(portal),
      portal,
      limits: false,
      pageSize: 25,
      retry: { retries: 0 },
    });

  it('a token expiring mid-backfill is refreshed without losing a page; a revoked portal alone is disconnected', async () => {
    const tm = await createTokenManager({ store: h.store, config: h.config, now: Date.now, logger: h.logger });
    const [a, b] = portals;
    if (a === undefined || b === undefined) throw new Error('two portals expected');
    const seen = new Set<string>();
    let pages = 0;
    for await (const page of connectorFor(a, tm).changes('contacts', null, AbortSignal.timeout(20_000))) {
      pages += 1;
      for (const r of page.records) if (r.type === 'contacts') seen.add(r.id);
      if (pages === 2) hs.sandbox.portals.expireAccessTokens(Number(a.split(':')[1]));
    }
    expect(pages).toBeGreaterThan(3);
    expect(seen.size).toBe(120);
    expect(tm.stats().refreshes).toBe(1);
    expect((await h.store.portals.get(a))?.status).toBe('connected');

    hs.sandbox.portals.revoke(Number(b.split(':')[1]));
    const failed = await (async () => {
      for await (const _page of connectorFor(b, tm).changes('contacts', null, AbortSignal.timeout(20_000))) {
        // no page can arrive
      }
    })().catch((e: unknown) => e);
    expect(failed).toMatchObject({ kind: 'auth' });
    expect((await h.store.portals.get(b))?.status).toBe('disconnected');
    expect((await h.store.portals.get(a))?.status).toBe('connected');
    // portal A keeps syncing
    let again = 0;
    for await (const page of connectorFor(a, tm).changes('contacts', null, AbortSignal.timeout(20_000))) again += page.records.length;
    expect(again).toBeGreaterThanOrEqual(120);
  });
});
