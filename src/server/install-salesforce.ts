import { Hono } from 'hono';
import type { Config } from '../config.ts';
import { authorizeUrl, exchangeCode, SALESFORCE_SCOPES, type FetchFn } from '../connectors/salesforce/oauth.ts';
import { CrmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { createInstallGuard, DECLINED_MESSAGE } from './install-guard.ts';
import { deriveStateKey } from './oauth-state.ts';
import { messagePage } from '../html.ts';

/**
 * The Salesforce OAuth install (web-server flow, salesforce.md §4): /install redirects to
 * `<login>/services/oauth2/authorize` with a signed, expiring state; /callback checks the state,
 * exchanges the code, learns the org from the token answer's `id` URL
 * (`…/id/<orgId>/<userId>`), stores the tokens encrypted with the org's `instance_url` (the
 * portals row's baseUrl: every API call goes there, not to the login URL) and hands the new portal
 * to the daemon. Salesforce token answers carry no expiry: the token manager refreshes on 401.
 */

export const SALESFORCE_CALLBACK_PATH = '/oauth/salesforce/callback';


export function createSalesforceInstallRoutes(deps: {
  store: Store;
  config: Config;
  logger: Logger;
  now(): number;
  onInstalled(portal: string): void;
  fetch?: FetchFn;
}) {
  const { config, store } = deps;
  const log = deps.logger.child({ route: 'oauth/salesforce' });
  // the same state key as HubSpot's install: a state proves only that this server started the
  // flow in the last 10 minutes (CSRF), whichever CRM it was for
  const stateKey = config.encryptionKey === undefined ? undefined : deriveStateKey(config.encryptionKey);
  const redirectUri = `${config.publicUrl.replace(/\/+$/, '')}${SALESFORCE_CALLBACK_PATH}`;
  const installs = { ok: 0, failed: 0 };
  const guard = stateKey === undefined ? undefined : createInstallGuard({ stateKey, now: deps.now, crm: 'salesforce', publicUrl: config.publicUrl });
  const app = new Hono();

  const missing = (): string | undefined => {
    const m: string[] = [];
    if (config.salesforce.clientId === undefined) m.push('SALESFORCE_CLIENT_ID');
    if (config.salesforce.clientSecret === undefined) m.push('SALESFORCE_CLIENT_SECRET');
    if (config.encryptionKey === undefined) m.push('RAPPORT_ENCRYPTION_KEY');
    return m.length === 0 ? undefined : `Installing on Salesforce needs ${m.join(', ')} to be set on the Rapport server.`;
  };

  app.get('/install', (c) => {
    const why = missing();
    if (why !== undefined || guard === undefined || config.salesforce.clientId === undefined) {
      return c.html(messagePage('Rapport is not set up for Salesforce installs', why ?? ''), 503);
    }
    const url = authorizeUrl({
      loginUrl: config.salesforce.loginUrl,
      clientId: config.salesforce.clientId,
      redirectUri,
      scopes: SALESFORCE_SCOPES,
      state: guard.begin(c),
    });
    return c.redirect(url, 302);
  });

  app.get('/callback', async (c) => {
    const fail = (status: 400 | 429 | 502 | 503, title: string, body: string) => {
      installs.failed += 1;
      return c.html(messagePage(title, body), status);
    };
    const why = missing();
    const { clientId, clientSecret, loginUrl } = config.salesforce;
    if (why !== undefined || guard === undefined || clientId === undefined || clientSecret === undefined) {
      return fail(503, 'Rapport is not set up for Salesforce installs', why ?? '');
    }
    const q = c.req.query();
    const state = guard.finish(c, q['state']);
    if (!state.ok) {
      log.warn({ reason: state.reason }, 'install refused: bad state');
      if (state.reason === 'rate_limited') return fail(429, 'Too many install attempts', 'Please wait a minute and start the install again.');
      return fail(400, 'Install link expired or invalid', 'Please start the install again from the Rapport install link, in the same browser.');
    }
    if (q['error'] !== undefined) {
      // e.g. access_denied when the admin clicks Deny (salesforce.md §4); the query is anyone's
      // text: a fixed page, the detail (capped) only in the log
      log.warn({ error: q['error'].slice(0, 100), description: q['error_description']?.slice(0, 300) }, 'install declined');
      return fail(400, 'Salesforce did not grant access', DECLINED_MESSAGE);
    }
    const code = q['code'];
    if (code === undefined || code === '' || code.length > 2048) return fail(400, 'Install failed', 'The callback carries no authorization code.');
    let portal: string;
    try {
      const tokens = await exchangeCode({ loginUrl, clientId, clientSecret, ...(deps.fetch ? { fetch: deps.fetch } : {}) }, { code, redirectUri });
      if (tokens.refreshToken === undefined) {
        // without a refresh token the portal would die at the first session timeout
        return fail(400, 'Install failed', 'Salesforce issued no refresh token: give the connected app the "refresh_token, offline_access" scope and install again.');
      }
      portal = tokens.portal;
      const refreshToken = tokens.refreshToken;
      await store.portals.install(
        { portal, crm: 'salesforce', externalId: tokens.orgId, baseUrl: tokens.instanceUrl, scopes: [...SALESFORCE_SCOPES] },
        { accessToken: tokens.accessToken, refreshToken, expiresAt: null },
      );
    } catch (e) {
      if (!(e instanceof CrmError)) throw e;
      log.warn({ kind: e.kind, status: e.details.status, code: e.details.code }, 'install failed');
      return fail(502, 'Install failed', `${e.message}. Please try again.`);
    }
    installs.ok += 1;
    log.info({ portal }, 'portal installed');
    try {
      deps.onInstalled(portal);
    } catch (e) {
      log.error({ portal, err: (e as Error).message }, 'onInstalled failed');
    }
    return c.html(messagePage('Rapport is installed', `Salesforce org ${portal.slice('salesforce:'.length)} is connected. Scores appear on contacts once the first sync and scoring finish.`), 200);
  });

  return { app, installs: () => ({ ...installs }) };
}
