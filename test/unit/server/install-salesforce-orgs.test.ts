import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { salesforceProvider, type SalesforceSettings } from '../../../src/connectors/salesforce/provider.ts';
import { providerSettings } from '../../../src/config.ts';
import { silentLogger } from '../../../src/log.ts';
import { createTokenManager } from '../../../src/server/tokens.ts';
import { salesforceId } from '../../../src/sandbox/salesforce/objects.ts';
import { startSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';
import { startRapport, type Harness } from './harness.ts';
import { createBrowser } from '../../support/browser.ts';

/**
 * Installing as admins do in 2026 (issue 14): an External Client App that requires PKCE, one
 * Rapport server for production and sandbox orgs (login vs test.salesforce.com at authorize time),
 * refreshes at the org's own My Domain, and a My Domain renamed under a running connector. Every
 * org is an emulator on its own loopback ports (a login host, the My Domain, the renamed one).
 */

const APP = { clientId: 'sf-eca-test', clientSecret: 'sf-eca-secret-0123456789', requirePkce: true };
const SANDBOX_ORG = salesforceId('00D', 2);

describe('Salesforce installs: PKCE, production and sandbox orgs, My Domain', () => {
  let prod: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let sandboxOrg: Awaited<ReturnType<typeof startSalesforceSandbox>>;
  let h: Harness;
  const get = createBrowser().get;

  /** Rapport /install(?query) → the emulator's authorize → Rapport /callback; answers the callback page. */
  async function install(query = ''): Promise<{ authorize: URL; callback: Response }> {
    const start = await get(`${h.url}/oauth/salesforce/install${query}`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location') ?? '');
    const approved = await get(authorize.toString());
    expect(approved.status).toBe(302);
    return { authorize, callback: await get(approved.headers.get('location') ?? '') };
  }

  beforeAll(async () => {
    // production: login host = baseUrl, My Domain = hostUrls[0], a later rename = hostUrls[1]
    prod = await startSalesforceSandbox({ oauth: APP, extraHosts: 2 });
    prod.sandbox.configure({ myDomainUrl: prod.hostUrls[0]!, apiLoginRequiresMyDomain: true });
    sandboxOrg = await startSalesforceSandbox({ oauth: APP, orgId: SANDBOX_ORG });
    h = await startRapport({
      env: {
        SALESFORCE_LOGIN_URL: prod.baseUrl,
        SALESFORCE_SANDBOX_LOGIN_URL: sandboxOrg.baseUrl,
        SALESFORCE_CLIENT_ID: APP.clientId,
        SALESFORCE_CLIENT_SECRET: APP.clientSecret,
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await prod.close();
    await sandboxOrg.close();
  });

  it('sends an S256 code challenge and redeems the code with its verifier, as an app requiring PKCE demands', async () => {
    const { authorize, callback } = await install();
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(callback.status).toBe(200);
    expect(h.installed).toContain(`salesforce:${prod.sandbox.orgId}`);
    // the org's My Domain (instance_url), not the login host, is where its API lives
    expect((await h.store.portals.get(`salesforce:${prod.sandbox.orgId}`))?.baseUrl).toBe(prod.hostUrls[0]);
  });

  it('the emulator refuses what Salesforce refuses: no challenge, no verifier, a wrong verifier', async () => {
    const redirectUri = 'http://127.0.0.1:9/cb';
    const authorize = (extra: Record<string, string>) =>
      get(`${prod.baseUrl}/services/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: APP.clientId, redirect_uri: redirectUri, state: 's', ...extra })}`);
    const missing = new URL((await authorize({})).headers.get('location') ?? '');
    expect(missing.searchParams.get('error')).toBe('invalid_request');
    expect(missing.searchParams.get('code')).toBeNull();

    const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636 appendix B
    const token = async (verifier: string | undefined) => {
      const code = new URL((await authorize({ code_challenge: challenge, code_challenge_method: 'S256' })).headers.get('location') ?? '').searchParams.get('code') ?? '';
      const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: APP.clientId, client_secret: APP.clientSecret });
      if (verifier !== undefined) body.set('code_verifier', verifier);
      const res = await fetch(`${prod.baseUrl}/services/oauth2/token`, { method: 'POST', body });
      return { status: res.status, body: (await res.json()) as { error?: string; access_token?: string } };
    };
    expect(await token(undefined)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await token('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect((await token('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).body.access_token).toBeTruthy();
  });

  it('one server installs a sandbox org through the sandbox login host (?org=sandbox), and refuses an unknown org kind', async () => {
    const { authorize, callback } = await install('?org=sandbox');
    expect(authorize.origin).toBe(sandboxOrg.baseUrl);
    expect(callback.status).toBe(200);
    const row = await h.store.portals.get(`salesforce:${SANDBOX_ORG}`);
    expect(row).toMatchObject({ status: 'connected', baseUrl: sandboxOrg.baseUrl });
    // the production org stays installed next to it
    expect((await h.store.portals.get(`salesforce:${prod.sandbox.orgId}`))?.status).toBe('connected');

    const bad = await get(`${h.url}/oauth/salesforce/install?org=staging`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('?org=sandbox');
  });

  it('refreshes at the My Domain and follows a renamed one: the new instance_url is stored and the connector calls it', async () => {
    const portal = `salesforce:${prod.sandbox.orgId}`;
    let t = Date.now();
    const tm = await createTokenManager({ store: h.store, config: h.config, now: () => t, logger: silentLogger });
    const row = (await h.store.portals.get(portal))!;
    const connector = salesforceProvider.createConnector(
      { portal, crm: 'salesforce', externalId: row.externalId, baseUrl: row.baseUrl, scopes: row.scopes },
      { accessToken: () => tm.accessToken(portal), onUnauthorized: () => tm.onUnauthorized(portal), baseUrl: async () => (await tm.baseUrl(portal)) ?? row.baseUrl },
      { settings: providerSettings(h.config, salesforceProvider) as SalesforceSettings, logger: silentLogger, now: Date.now, httpTimeoutMs: 10_000 },
    );
    expect(await connector.whoAmI()).toEqual({ portal });

    // the admin renames the My Domain: the old host no longer serves the API, only redirects OAuth
    prod.sandbox.renameMyDomain(prod.hostUrls[1]!);
    expect(await connector.whoAmI()).toEqual({ portal });
    expect(tm.stats()).toMatchObject({ refreshes: 1, refreshFailures: 0 });
    expect(await h.store.portals.get(portal)).toMatchObject({ status: 'connected', baseUrl: prod.hostUrls[1] });

    // the next refresh goes to the new My Domain; the login host would refuse it (API login requires the org's domain)
    t += 60_000; // past the token manager's guard against refreshing twice in a row
    prod.sandbox.sessions.expireAccessTokens();
    expect(await connector.whoAmI()).toEqual({ portal });
    expect(tm.stats()).toMatchObject({ refreshes: 2, refreshFailures: 0 });
    const viaLogin = await fetch(`${prod.baseUrl}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: (await h.store.portals.tokens(portal))?.refreshToken ?? '', client_id: APP.clientId, client_secret: APP.clientSecret }),
    });
    expect(viaLogin.status).toBe(400);
  });
});
