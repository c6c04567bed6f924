import { readFileSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenInfo } from '../../../src/connectors/hubspot/oauth.ts';
import { CrmError } from '../../../src/errors.ts';
import { createTokenManager, REFRESH_AHEAD_MS } from '../../../src/server/tokens.ts';
import { startHubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';
import { CLIENT_SECRET, startRapport, type Harness } from './harness.ts';
import { createBrowser } from '../../support/browser.ts';

/**
 * The OAuth install against the sandbox's OAuth server (real HTTP both ways), then the token
 * manager on the installed portals: refresh ahead of expiry and on 401, revoke → only that
 * portal disconnected, and no token or secret in the logs or in the database file.
 */

const APP = { clientId: 'client-id-test', clientSecret: CLIENT_SECRET, appId: 54321 };

describe('OAuth install and tokens against the sandbox', () => {
  let hs: Awaited<ReturnType<typeof startHubspotSandbox>>;
  let h: Harness;
  let t = Date.now();
  const now = () => t;
  const seenSecrets: string[] = [CLIENT_SECRET];
  const installedPortals: string[] = [];

  const get = createBrowser().get;

  /** Rapport /install → sandbox authorize → Rapport /callback, following redirects by hand. */
  async function install(extra = ''): Promise<Response> {
    const start = await get(`${h.url}/oauth/hubspot/install`);
    expect(start.status).toBe(302);
    const authorize = start.headers.get('location') ?? '';
    expect(authorize.startsWith(`${hs.baseUrl}/oauth/authorize?`)).toBe(true);
    const consent = await get(authorize + extra);
    expect(consent.status).toBe(302);
    const callback = consent.headers.get('location') ?? '';
    expect(callback.startsWith(`${h.url}/oauth/hubspot/callback?`)).toBe(true);
    const code = new URL(callback).searchParams.get('code');
    if (code !== null) seenSecrets.push(code);
    return get(callback);
  }

  beforeAll(async () => {
    hs = await startHubspotSandbox({ oauth: APP, limits: false });
    h = await startRapport({ now, env: { HUBSPOT_BASE_URL: hs.baseUrl, HUBSPOT_APP_ID: String(APP.appId) } });
  });
  afterAll(async () => {
    await h.close();
    await hs.close();
  });

  it('redirects to the authorize page with our scopes, redirect URI and a signed state', async () => {
    const res = await get(`${h.url}/oauth/hubspot/install`);
    const u = new URL(res.headers.get('location') ?? '');
    expect(u.searchParams.get('client_id')).toBe(APP.clientId);
    expect(u.searchParams.get('redirect_uri')).toBe(`${h.url}/oauth/hubspot/callback`);
    expect(u.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['oauth', 'crm.objects.contacts.write', 'crm.schemas.contacts.write', 'tickets']));
    expect(u.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
  });

  it('installs two portals, each with its own portal row and tokens', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await install();
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Rapport is installed');
    }
    expect(h.installed).toHaveLength(2);
    expect(new Set(h.installed).size).toBe(2);
    installedPortals.push(...h.installed);
    for (const portal of installedPortals) {
      const row = await h.store.portals.get(portal);
      expect(row).toMatchObject({ crm: 'hubspot', status: 'connected', externalId: portal.slice('hubspot:'.length), baseUrl: hs.baseUrl });
      expect(row?.scopes).toEqual(expect.arrayContaining(['oauth', 'crm.objects.contacts.read']));
      const tokens = await h.store.portals.tokens(portal);
      expect(tokens?.expiresAt).toBe(t + 1800 * 1000);
      seenSecrets.push(tokens?.accessToken ?? '', tokens?.refreshToken ?? '');
      // the stored token really belongs to that portal
      const info = await accessTokenInfo({ baseUrl: hs.baseUrl }, tokens?.accessToken ?? '');
      expect(`hubspot:${info.hubId}`).toBe(portal);
    }
    const [a, b] = await Promise.all(installedPortals.map(async (p) => (await h.store.portals.tokens(p))?.accessToken));
    expect(a).not.toBe(b);
  });

  it('refuses a callback with a forged or expired state, a declined consent, or a reused code, writing nothing', async () => {
    const portalsBefore = (await h.store.portals.list()).length;
    const start = await get(`${h.url}/oauth/hubspot/install`);
    const authorize = new URL(start.headers.get('location') ?? '');
    const state = authorize.searchParams.get('state') ?? '';

    const forged = await get(`${h.url}/oauth/hubspot/callback?code=abc&state=${encodeURIComponent(state.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))}`);
    expect(forged.status).toBe(400);
    const none = await get(`${h.url}/oauth/hubspot/callback?code=abc`);
    expect(none.status).toBe(400);

    t += 11 * 60_000; // state lives 10 minutes
    const consent = await get(authorize.toString());
    const late = await get(consent.headers.get('location') ?? '');
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('expired or invalid');

    const declined = await install('&deny=1');
    expect(declined.status).toBe(400);
    expect(await declined.text()).toContain('HubSpot did not grant access');

    // a code can be redeemed once
    const s2 = await get(`${h.url}/oauth/hubspot/install`);
    const c2 = await get(s2.headers.get('location') ?? '');
    const cb = c2.headers.get('location') ?? '';
    seenSecrets.push(new URL(cb).searchParams.get('code') ?? '');
    expect((await get(cb)).status).toBe(200);
    // a replayed callback is refused before any code exchange: its state is used up
    const again = await get(cb);
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('expired or invalid');
    expect((await h.store.portals.list()).length).toBe(portalsBefore + 1);
    installedPortals.push(h.installed.at(-1) ?? '');
    seenSecrets.push((await h.store.portals.tokens(installedPortals.at(-1) ?? ''))?.accessToken ?? '');
  });

  it('refreshes a token ahead of its expiry and once on a 401', async () => {
    const tm = await createTokenManager({ store: h.store, config: h.config, now, logger: h.logger });
    const [portal] = installedPortals;
    if (portal === undefined) throw new Error('no portal');
    const first = await tm.accessToken(portal);
    expect(first).toBe((await h.store.portals.tokens(portal))?.accessToken);

    // 26 minutes later: less than REFRESH_AHEAD_MS left → a new token, saved, valid at HubSpot
    t += 1800_000 - REFRESH_AHEAD_MS + 60_000;
    const [r1, r2] = await Promise.all([tm.accessToken(portal), tm.accessToken(portal)]);
    expect(r1).not.toBe(first);
    expect(r2).toBe(r1); // single flight
    expect(tm.stats().refreshes).toBe(1);
    expect((await h.store.portals.tokens(portal))?.accessToken).toBe(r1);
    expect((await h.store.portals.tokens(portal))?.expiresAt).toBe(t + 1800_000);
    seenSecrets.push(r1);

    // HubSpot expires the token early: the 401 path refreshes once
    hs.sandbox.portals.expireAccessTokens(Number(portal.slice('hubspot:'.length)));
    await expect(accessTokenInfo({ baseUrl: hs.baseUrl }, r1)).rejects.toBeInstanceOf(CrmError);
    t += 10_000;
    const fresh = await tm.onUnauthorized(portal);
    expect(fresh).not.toBeNull();
    expect(fresh).not.toBe(r1);
    seenSecrets.push(fresh ?? '');
    expect((await accessTokenInfo({ baseUrl: hs.baseUrl }, fresh ?? '')).hubId).toBe(Number(portal.slice('hubspot:'.length)));
  });

  it('a revoked portal is marked disconnected with a clear reason; the other portals go on', async () => {
    const tm = await createTokenManager({ store: h.store, config: h.config, now, logger: h.logger });
    const [revoked, other] = installedPortals;
    if (revoked === undefined || other === undefined) throw new Error('need two portals');
    hs.sandbox.portals.revoke(Number(revoked.slice('hubspot:'.length)));

    t += 1800_000; // everything is due for a refresh
    const err = await tm.accessToken(revoked).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmError);
    expect((err as CrmError).kind).toBe('auth');
    expect((err as CrmError).message).toContain('BAD_REFRESH_TOKEN');
    const row = await h.store.portals.get(revoked);
    expect(row?.status).toBe('disconnected');
    expect(row?.statusReason).toMatch(/uninstalled or its access revoked.*reinstall/);
    // further calls fail fast without asking HubSpot again; onUnauthorized has nothing to offer
    const refreshFailures = tm.stats().refreshFailures;
    await expect(tm.accessToken(revoked)).rejects.toThrow(/disconnected/);
    expect(await tm.onUnauthorized(revoked)).toBeNull();
    expect(tm.stats().refreshFailures).toBe(refreshFailures);

    const ok = await tm.accessToken(other);
    seenSecrets.push(ok);
    expect((await h.store.portals.get(other))?.status).toBe('connected');
    expect((await accessTokenInfo({ baseUrl: hs.baseUrl }, ok)).hubId).toBe(Number(other.slice('hubspot:'.length)));

    const metrics = await (await fetch(`${h.operatorUrl}/metrics`)).text();
    expect(metrics).toContain(`rapport_portal_connected{portal="${revoked}",crm="hubspot"} 0`);
    expect(metrics).toContain(`rapport_portal_connected{portal="${other}",crm="hubspot"} 1`);
    const health = (await (await fetch(`${h.url}/healthz`)).json()) as { ok: boolean; portals: { disconnected: number } };
    expect(health).toMatchObject({ ok: true, portals: { disconnected: 1 } });

    // reinstalling the revoked portal is possible through the sandbox's account-specific authorize URL
  });

  it('never writes a token, code or secret to the logs or in clear into the database file', () => {
    const secrets = seenSecrets.filter((s) => s.length >= 8);
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    expect(h.logLines.length).toBeGreaterThan(0);
    const logs = h.logLines.join('');
    const db = Buffer.concat([h.dbPath, `${h.dbPath}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
    for (const s of secrets) {
      expect(logs.includes(s), 'a secret appears in the logs').toBe(false);
      expect(db.includes(Buffer.from(s)), 'a secret appears in the database file').toBe(false);
    }
    // and the portals really are in there (the check looks at the right file)
    expect(db.includes(Buffer.from(installedPortals[0] ?? '-'))).toBe(true);
  });
});
