import { Client } from '@hubspot/api-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../../src/sandbox/hubspot/index.ts';

/**
 * The sandbox's OAuth over real HTTP, driven by the real @hubspot/api-client's `oauth` APIs
 * (they call exactly /oauth/v1/token, /oauth/v1/access-tokens/{t}, /oauth/v1/refresh-tokens/{t}).
 */
const APP = { clientId: 'cid-test', clientSecret: 'csec-test', appId: 4242 };
const REDIRECT = 'http://localhost:3000/oauth/hubspot/callback';

let sandbox: HubspotSandbox;
let baseUrl: string;
let close: () => Promise<void>;
let client: Client;
const clock = createClock({ frozenAt: Date.parse('2026-11-01T12:00:00Z') });

beforeAll(async () => {
  ({ sandbox, baseUrl, close } = await startHubspotSandbox({ clock, oauth: APP, limits: false, seed: 7 }));
  client = new Client({ basePath: baseUrl });
});
afterAll(async () => close());

async function authorize(params: Record<string, string>): Promise<Response> {
  const q = new URLSearchParams({ client_id: APP.clientId, redirect_uri: REDIRECT, scope: 'crm.objects.contacts.read tickets', ...params });
  return fetch(`${baseUrl}/oauth/authorize?${q.toString()}`, { redirect: 'manual' });
}

async function codeFrom(params: Record<string, string> = {}): Promise<{ code: string; location: URL }> {
  const res = await authorize(params);
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location') ?? '');
  const code = location.searchParams.get('code');
  if (code === null) throw new Error(`no code in ${location.toString()}`);
  return { code, location };
}

/** The api-client throws ApiException with `.code` (HTTP status) and `.body` (parsed JSON). */
async function apiError(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: number; body?: unknown };
    return { code: err.code ?? -1, body: (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Record<string, unknown> };
  }
  throw new Error('expected the call to fail');
}

const listContacts = (token: string) => fetch(`${baseUrl}/crm/v3/objects/contacts?limit=1`, { headers: { Authorization: `Bearer ${token}` } });

describe('sandbox OAuth', () => {
  it('code → token → API call → metadata → expiry → refresh, with the real api-client', async () => {
    const { code, location } = await codeFrom({ state: 'st-123' });
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('st-123');

    const tokens = await client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
    expect(tokens.tokenType).toBe('bearer');
    expect(tokens.expiresIn).toBe(1800);
    expect(tokens.accessToken.length).toBeGreaterThan(20);
    expect(tokens.refreshToken).toMatch(/^na1-/);

    expect((await listContacts(tokens.accessToken)).status).toBe(200);

    const info = await client.oauth.accessTokensApi.get(tokens.accessToken);
    expect(sandbox.portals.list()).toContain(info.hubId);
    expect(info.appId).toBe(APP.appId);
    expect(info.scopes).toEqual(expect.arrayContaining(['oauth', 'crm.objects.contacts.read', 'tickets']));
    expect(info.expiresIn).toBe(1800);
    expect(info.tokenType).toBe('access');
    expect(info.user).toContain('@');

    // the code is single-use
    const reused = await apiError(client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret));
    expect(reused.code).toBe(400);
    expect(reused.body).toMatchObject({ status: 'BAD_AUTH_CODE', error: 'invalid_grant' });

    // 30 minutes of sandbox time later the access token is refused with HubSpot's expired body
    clock.advance(1_800_000);
    const expired = await listContacts(tokens.accessToken);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ category: 'EXPIRED_AUTHENTICATION' });

    const refreshed = await client.oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, tokens.refreshToken);
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    expect(refreshed.refreshToken).toBe(tokens.refreshToken);
    expect(refreshed.expiresIn).toBe(1800);
    expect((await listContacts(refreshed.accessToken)).status).toBe(200);
    expect((await client.oauth.accessTokensApi.get(refreshed.accessToken)).hubId).toBe(info.hubId);

    const refreshInfo = await client.oauth.refreshTokensApi.get(tokens.refreshToken);
    expect(refreshInfo).toMatchObject({ hubId: info.hubId, clientId: APP.clientId, token: tokens.refreshToken });
  });

  it('refuses bad codes, refresh tokens, clients, secrets, redirect URIs and grant types with HubSpot status codes', async () => {
    const { code } = await codeFrom();
    const cases: Array<[Promise<unknown>, string]> = [
      [client.oauth.tokensApi.create('authorization_code', 'not-a-code', REDIRECT, APP.clientId, APP.clientSecret), 'BAD_AUTH_CODE'],
      [client.oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, 'na1-nope'), 'BAD_REFRESH_TOKEN'],
      [client.oauth.tokensApi.create('authorization_code', code, REDIRECT, 'someone-else', APP.clientSecret), 'BAD_CLIENT_ID'],
      [client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, 'wrong-secret'), 'BAD_CLIENT_SECRET'],
      [client.oauth.tokensApi.create('authorization_code', code, 'http://localhost:3000/elsewhere', APP.clientId, APP.clientSecret), 'BAD_REDIRECT_URI'],
      [client.oauth.tokensApi.create('password', code, REDIRECT, APP.clientId, APP.clientSecret), 'BAD_GRANT_TYPE'],
    ];
    for (const [call, status] of cases) {
      const err = await apiError(call);
      expect(err.code, status).toBe(400);
      expect(err.body.status).toBe(status);
      expect(typeof err.body.message).toBe('string');
      expect(typeof err.body.correlationId).toBe('string');
    }
    // none of the failures above consumed the code
    const ok = await client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
    expect(ok.accessToken).toBeTruthy();

    // a JSON body is not what HubSpot takes
    const json = await fetch(`${baseUrl}/oauth/v1/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(json.headers.get('content-type')).toContain('application/json');

    // codes die after their lifetime
    const { code: late } = await codeFrom();
    clock.advance(11 * 60_000);
    const expiredCode = await apiError(client.oauth.tokensApi.create('authorization_code', late, REDIRECT, APP.clientId, APP.clientSecret));
    expect(expiredCode.body.status).toBe('EXPIRED_AUTH_CODE');

    // the v3 token endpoint takes the same form and answers the same body
    const { code: v3code } = await codeFrom();
    const v3 = await fetch(`${baseUrl}/oauth/v3/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: v3code, redirect_uri: REDIRECT, client_id: APP.clientId, client_secret: APP.clientSecret }).toString(),
    });
    expect(v3.status).toBe(200);
    expect(await v3.json()).toMatchObject({ token_type: 'bearer', expires_in: 1800, access_token: expect.any(String), refresh_token: expect.any(String) });

    // metadata of an unknown token is a JSON 404
    expect((await apiError(client.oauth.accessTokensApi.get('C-unknown'))).code).toBe(404);
  });

  it('authorize validates its input and picks the installing portal as documented', async () => {
    const unknownClient = await authorize({ client_id: 'nobody' });
    expect(unknownClient.status).toBe(400);
    expect(((await unknownClient.json()) as { message: string }).message).toContain('client_id');
    expect((await authorize({ redirect_uri: 'http://example.com/cb' })).status).toBe(400);
    expect((await authorize({ redirect_uri: 'not a url' })).status).toBe(400);
    expect((await authorize({ scope: 'crm.objects.contacts.read made.up.scope' })).status).toBe(400);
    expect((await authorize({ scope: '' })).status).toBe(400);

    const denied = await authorize({ deny: '1', state: 's' });
    const deniedAt = new URL(denied.headers.get('location') ?? '');
    expect(deniedAt.searchParams.get('error')).toBe('access_denied');
    expect(deniedAt.searchParams.get('code')).toBeNull();
    expect(deniedAt.searchParams.get('state')).toBe('s');

    // without hub_id, each install lands in a portal this app has not been installed in
    const hubOf = async (params: Record<string, string> = {}, path?: string) => {
      const res = path === undefined ? await authorize(params) : await fetch(path, { redirect: 'manual' });
      const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
      const t = await client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
      return (await client.oauth.accessTokensApi.get(t.accessToken)).hubId;
    };
    const a = await hubOf();
    const b = await hubOf();
    expect(a).not.toBe(b);
    expect(String(a)).toMatch(/^\d{8}$/);
    // explicit choice: sandbox-only hub_id, or HubSpot's account-specific authorize URL
    expect(await hubOf({ hub_id: String(a) })).toBe(a);
    const q = new URLSearchParams({ client_id: APP.clientId, redirect_uri: REDIRECT, scope: 'tickets' });
    expect(await hubOf({}, `${baseUrl}/oauth/${b}/authorize?${q.toString()}`)).toBe(b);
    expect((await authorize({ hub_id: '99999999' })).status).toBe(400);

    // an app with configured redirect URLs and required scopes accepts only those
    sandbox.portals.registerApp({ clientId: 'strict-app', clientSecret: 's3cret', appId: 5, redirectUris: [REDIRECT], requiredScopes: ['tickets'] });
    expect((await authorize({ client_id: 'strict-app', redirect_uri: 'http://localhost:3000/other' })).status).toBe(400);
    const tooFew = await authorize({ client_id: 'strict-app', scope: 'crm.objects.contacts.read' });
    expect(tooFew.status).toBe(400);
    expect(((await tooFew.json()) as { message: string }).message).toContain('Insufficient scopes');
    expect((await authorize({ client_id: 'strict-app' })).status).toBe(302);
  });

  it('revoked portal → 401 for every token, refresh refused; other portals go on', async () => {
    const { code } = await codeFrom();
    const t = await client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
    const hubId = (await client.oauth.accessTokensApi.get(t.accessToken)).hubId;
    const { hubId: keptHub, token: keptToken } = sandbox.portals.create();
    const pat = sandbox.portals.create({ hubId: hubId + 1_000_000, privateAppToken: 'pat-revoke-me' });
    expect((await listContacts(t.accessToken)).status).toBe(200);
    expect((await listContacts(pat.token)).status).toBe(200);

    sandbox.portals.revoke(hubId);
    sandbox.portals.revoke(pat.hubId);
    const refused = await listContacts(t.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toContain('application/json');
    expect((await listContacts(pat.token)).status).toBe(401);
    const refresh = await apiError(client.oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, t.refreshToken));
    expect(refresh.body).toMatchObject({ status: 'BAD_REFRESH_TOKEN', error: 'invalid_grant' });

    expect(keptHub).not.toBe(hubId);
    expect((await listContacts(keptToken)).status).toBe(200);

    // reinstalling issues working tokens again
    const again = await codeFrom({ hub_id: String(hubId) });
    const t2 = await client.oauth.tokensApi.create('authorization_code', again.code, REDIRECT, APP.clientId, APP.clientSecret);
    expect((await listContacts(t2.accessToken)).status).toBe(200);
  });

  it('DELETE refresh token kills only the refresh token; expireAccessTokens expires access tokens now', async () => {
    const { code } = await codeFrom();
    const t = await client.oauth.tokensApi.create('authorization_code', code, REDIRECT, APP.clientId, APP.clientSecret);
    await client.oauth.refreshTokensApi.archive(t.refreshToken);
    expect((await apiError(client.oauth.refreshTokensApi.get(t.refreshToken))).code).toBe(404);
    const refresh = await apiError(client.oauth.tokensApi.create('refresh_token', undefined, undefined, APP.clientId, APP.clientSecret, t.refreshToken));
    expect(refresh.body.status).toBe('BAD_REFRESH_TOKEN');
    expect((await listContacts(t.accessToken)).status).toBe(200);

    const hubId = (await client.oauth.accessTokensApi.get(t.accessToken)).hubId;
    sandbox.portals.expireAccessTokens(hubId);
    const res = await listContacts(t.accessToken);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ category: 'EXPIRED_AUTHENTICATION' });
  });
});
