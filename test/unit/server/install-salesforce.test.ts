import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError } from '../../../src/errors.ts';
import { createTokenManager } from '../../../src/server/tokens.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { startRapport, type Harness } from './harness.ts';
import { createBrowser } from '../../support/browser.ts';

/**
 * The Salesforce OAuth install (web-server flow) against the emulator's OAuth endpoints over real
 * HTTP both ways, then the token manager on the installed org: no expiry → refresh on 401 only,
 * the refresh token kept (no rotation), a revoked grant disconnecting only that portal, and no
 * token or code in the logs or in clear in the database file.
 */

const APP = { clientId: 'sf-client-test', clientSecret: 'sf-secret-test-0123456789', requirePkce: true };

describe('Salesforce OAuth install and tokens against the emulator', () => {
  let sf: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let h: Harness;
  let t = Date.now();
  const now = () => t;
  const seenSecrets: string[] = [APP.clientSecret];
  let portal = '';

  const get = createBrowser().get;

  /** Rapport /install → emulator authorize (auto-approves) → Rapport /callback, redirects followed by hand. */
  async function consent(): Promise<string> {
    const start = await get(`${h.url}/oauth/salesforce/install`);
    expect(start.status).toBe(302);
    const authorize = start.headers.get('location') ?? '';
    expect(authorize.startsWith(`${sf.baseUrl}/services/oauth2/authorize?`)).toBe(true);
    const approved = await get(authorize);
    expect(approved.status).toBe(302);
    const callback = approved.headers.get('location') ?? '';
    expect(callback.startsWith(`${h.url}/oauth/salesforce/callback?`)).toBe(true);
    seenSecrets.push(new URL(callback).searchParams.get('code') ?? '');
    return callback;
  }

  beforeAll(async () => {
    sf = await startSalesforceSandbox({ oauth: APP });
    h = await startRapport({
      now,
      env: { SALESFORCE_LOGIN_URL: sf.baseUrl, SALESFORCE_CLIENT_ID: APP.clientId, SALESFORCE_CLIENT_SECRET: APP.clientSecret },
    });
  });
  afterAll(async () => {
    await h.close();
    await sf.close();
  });

  it('redirects to <login>/services/oauth2/authorize with the client id, callback, scopes and a signed state', async () => {
    const res = await get(`${h.url}/oauth/salesforce/install`);
    expect(res.status).toBe(302);
    const u = new URL(res.headers.get('location') ?? '');
    expect(`${u.origin}${u.pathname}`).toBe(`${sf.baseUrl}/services/oauth2/authorize`);
    expect(u.searchParams.get('response_type')).toBe('code');
    expect(u.searchParams.get('client_id')).toBe(APP.clientId);
    expect(u.searchParams.get('redirect_uri')).toBe(`${h.url}/oauth/salesforce/callback`);
    expect(u.searchParams.get('scope')?.split(' ')).toEqual(['api', 'refresh_token']);
    expect(u.searchParams.get('state')).toMatch(/^[\w-]+\.[\w-]+$/);
  });

  it('installs the org: portal salesforce:<orgId>, instance URL as baseUrl, encrypted tokens without expiry', async () => {
    const res = await get(await consent());
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Rapport is installed');
    expect(h.installed).toEqual([`salesforce:${sf.sandbox.orgId}`]);
    portal = h.installed[0] ?? '';
    expect(await h.store.portals.get(portal)).toMatchObject({
      crm: 'salesforce',
      status: 'connected',
      externalId: sf.sandbox.orgId,
      baseUrl: sf.baseUrl,
      scopes: ['api', 'refresh_token'],
    });
    const tokens = await h.store.portals.tokens(portal);
    expect(tokens?.expiresAt).toBeNull();
    expect(tokens?.refreshToken).toMatch(/^5Aep861/);
    expect(sf.sandbox.sessions.authenticate(tokens?.accessToken)).toBe('ok');
    seenSecrets.push(tokens?.accessToken ?? '', tokens?.refreshToken ?? '');
  });

  it('refuses a forged, missing or expired state, a denied consent and a reused code, writing nothing', async () => {
    const portalsBefore = (await h.store.portals.list()).length;
    const tokensBefore = await h.store.portals.tokens(portal);
    const installedBefore = h.installed.length;

    const callback = new URL(await consent());
    const state = callback.searchParams.get('state') ?? '';
    const withState = (s: string | null, extra = '') =>
      get(`${h.url}/oauth/salesforce/callback?code=${encodeURIComponent(callback.searchParams.get('code') ?? '')}${s === null ? '' : `&state=${encodeURIComponent(s)}`}${extra}`);

    const forged = await withState(state.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('expired or invalid');
    expect((await withState(null)).status).toBe(400);
    expect((await withState(`${state}.x`)).status).toBe(400);

    t += 11 * 60_000; // a state lives 10 minutes
    const late = await withState(state);
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('expired or invalid');

    // the admin clicked Deny: Salesforce redirects with error=access_denied
    const fresh = new URL(await consent());
    const denied = await get(`${h.url}/oauth/salesforce/callback?error=access_denied&error_description=end-user+denied+authorization&state=${encodeURIComponent(fresh.searchParams.get('state') ?? '')}`);
    expect(denied.status).toBe(400);
    const deniedPage = await denied.text();
    expect(deniedPage).toContain('Salesforce did not grant access');
    // the query's own text is not reflected (issue 15 item 10)
    expect(deniedPage).not.toContain('end-user denied');

    // the code of the forged/late attempts was never redeemed; redeeming it now works once; a
    // replayed callback is refused before any code exchange (its state is used up)
    const once = await get(await consent());
    expect(once.status).toBe(200);
    const reuse = new URL(await consent());
    expect((await get(reuse.toString())).status).toBe(200);
    const again = await get(reuse.toString());
    expect(again.status).toBe(400);
    expect(await again.text()).toContain('expired or invalid');

    // only the same org was (re)installed: no new portal row; the bad attempts installed nothing
    expect((await h.store.portals.list()).length).toBe(portalsBefore);
    expect(h.installed.length).toBe(installedBefore + 2);
    expect((await h.store.portals.tokens(portal))?.accessToken).not.toBe(tokensBefore?.accessToken);
    seenSecrets.push((await h.store.portals.tokens(portal))?.accessToken ?? '', (await h.store.portals.tokens(portal))?.refreshToken ?? '');
  });

  it('answers 503 naming the missing settings when the connected app is not configured', async () => {
    const bare = await startRapport({ env: { SALESFORCE_LOGIN_URL: sf.baseUrl } });
    try {
      const res = await get(`${bare.url}/oauth/salesforce/install`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('SALESFORCE_CLIENT_ID');
      const cb = await get(`${bare.url}/oauth/salesforce/callback?code=x&state=y`);
      expect(cb.status).toBe(503);
      expect(await bare.store.portals.list()).toEqual([]);
    } finally {
      await bare.close();
    }
  });

  it('uses the stored token until a 401, then refreshes once and keeps the refresh token', async () => {
    const tm = await createTokenManager({ store: h.store, config: h.config, now, logger: h.logger });
    const stored = await h.store.portals.tokens(portal);
    // no expiry: however much later, the stored token is used as is, with no refresh call
    t += 30 * 24 * 3600_000;
    expect(await tm.accessToken(portal)).toBe(stored?.accessToken);
    expect(tm.stats().refreshes).toBe(0);

    sf.sandbox.sessions.expireAccessTokens();
    expect(sf.sandbox.sessions.authenticate(stored?.accessToken)).toBe('invalid');
    const [a, b] = await Promise.all([tm.onUnauthorized(portal), tm.onUnauthorized(portal)]);
    expect(a).not.toBeNull();
    expect(b).toBe(a); // single flight
    expect(tm.stats().refreshes).toBe(1);
    expect(sf.sandbox.sessions.authenticate(a ?? undefined)).toBe('ok');
    expect(await h.store.portals.tokens(portal)).toEqual({ accessToken: a, refreshToken: stored?.refreshToken, expiresAt: null });
    expect(await tm.accessToken(portal)).toBe(a);
    seenSecrets.push(a ?? '');
  });

  it('a revoked refresh token disconnects only that portal, with a reason naming the reinstall URL', async () => {
    // another portal in the same database, with a valid token of its own
    const other = 'hubspot:424242';
    await h.store.portals.upsert({ portal: other, crm: 'hubspot', externalId: '424242', baseUrl: 'http://127.0.0.1:9', scopes: [] });
    await h.store.portals.saveTokens(other, { accessToken: 'other-access-token', refreshToken: 'other-refresh-token', expiresAt: t + 3600_000 });
    const tm = await createTokenManager({ store: h.store, config: h.config, now, logger: h.logger });

    const rt = (await h.store.portals.tokens(portal))?.refreshToken ?? '';
    sf.sandbox.sessions.revoke(rt); // the admin revoked the connected app's access
    t += 10_000;
    expect(await tm.onUnauthorized(portal)).toBeNull();
    const row = await h.store.portals.get(portal);
    expect(row?.status).toBe('disconnected');
    expect(row?.statusReason).toContain('invalid_grant');
    expect(row?.statusReason).toContain(`${h.url}/oauth/salesforce/install`);
    expect(tm.stats()).toMatchObject({ refreshFailures: 1, disconnects: 1 });

    const err = await tm.accessToken(portal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrmError);
    expect(err).toMatchObject({ kind: 'auth', details: { crm: 'salesforce', code: 'DISCONNECTED' } });
    expect(await tm.onUnauthorized(portal)).toBeNull();
    expect(tm.stats().refreshFailures).toBe(1); // no second call to Salesforce

    expect((await h.store.portals.get(other))?.status).toBe('connected');
    expect(await tm.accessToken(other)).toBe('other-access-token');
  });

  it('never writes a token, code or secret to the logs or in clear into the database file', () => {
    const secrets = seenSecrets.filter((s) => s.length >= 8);
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const logs = h.logLines.join('');
    expect(logs).toContain('portal installed');
    const db = Buffer.concat([h.dbPath, `${h.dbPath}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
    for (const s of secrets) {
      expect(logs.includes(s), 'a secret appears in the logs').toBe(false);
      expect(db.includes(Buffer.from(s)), 'a secret appears in the database file').toBe(false);
    }
    expect(db.includes(Buffer.from(portal))).toBe(true);
  });
});
