import { afterEach, describe, expect, it } from 'vitest';
import { createHubspotConnector } from '../../src/connectors/hubspot/index.ts';
import { CrmError } from '../../src/errors.ts';
import { startHubspotSandbox } from '../../src/sandbox/hubspot/index.ts';

/**
 * Issue 13: token metadata for a private-app token (`pat-…`) and whoAmI. HubSpot's reply to
 * `GET /oauth/v1/access-tokens/pat-…` is reported (400 "The access token must have the correct
 * format", https://github.com/HubSpot/hubspot-api-nodejs/issues/530), not documented, so the
 * sandbox can answer either way and the connector must be right under both.
 */

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

const APP = { clientId: 'pat-test-client', clientSecret: 'pat-test-secret', appId: 77 };

describe.each(['bad-format', 'not-found'] as const)('token metadata of a private-app token answered as %s', (mode) => {
  it('the sandbox refuses it as HubSpot does; whoAmI learns the portal from account info in one call', async () => {
    const started = await startHubspotSandbox({ limits: false, searchLagMs: 0, privateAppTokenMetadata: mode, oauth: APP });
    close = () => started.close();
    const { sandbox, baseUrl } = started;
    const { hubId, token } = sandbox.portals.create();
    expect(token).toMatch(/^pat-na1-/);

    const res = await fetch(`${baseUrl}/oauth/v1/access-tokens/${token}`);
    const body = (await res.json()) as Record<string, unknown>;
    if (mode === 'bad-format') {
      expect(res.status).toBe(400);
      expect(body).toMatchObject({ status: 'error', message: 'The access token must have the correct format' });
      // format, not existence: an unknown pat- token gets the same answer
      expect((await fetch(`${baseUrl}/oauth/v1/access-tokens/pat-na1-unknown`)).status).toBe(400);
    } else {
      expect(res.status).toBe(404);
    }
    expect(res.headers.get('x-hubspot-correlation-id')).toBe(body.correlationId);

    const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, limits: false });
    expect(await connector.whoAmI()).toEqual({ portal: `hubspot:${hubId}` });
    // straight to account info: token metadata is for OAuth tokens
    expect(connector.stats().calls).toBe(1);
    expect(sandbox.stats(hubId).byRoute).toEqual({ 'GET /account-info/v3/details': 1 });

    // an OAuth token of the same sandbox still goes through its token metadata (one call, no account info)
    const code = sandbox.portals.issueCode({ clientId: APP.clientId, redirectUri: 'http://localhost/cb', hubId, scopes: ['oauth', 'crm.objects.contacts.read'] });
    const issued = sandbox.portals.redeemCode({ code, clientId: APP.clientId, redirectUri: 'http://localhost/cb' });
    if ('error' in issued) throw new Error(issued.error);
    const oauth = createHubspotConnector({ basePath: baseUrl, accessToken: async () => issued.accessToken, limits: false });
    expect(await oauth.whoAmI()).toEqual({ portal: `hubspot:${hubId}` });
    expect(oauth.stats().calls).toBe(1);
    expect(sandbox.stats(hubId).byRoute['GET /account-info/v3/details']).toBe(1);

    // a revoked private-app token is a clear auth failure, not "portal unknown"
    sandbox.portals.revoke(hubId);
    const dead = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, limits: false, retry: { retries: 0 } });
    const e = await dead.whoAmI().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('auth');
    expect((e as CrmError).message).not.toContain(token);
  });
});
