import { Hono } from 'hono';
import type { Config } from '../config.ts';
import { accessTokenInfo, authorizeUrl, exchangeCode, type FetchFn } from '../connectors/hubspot/oauth.ts';
import { CrmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { createInstallGuard, DECLINED_MESSAGE } from './install-guard.ts';
import { deriveStateKey } from './oauth-state.ts';
import { messagePage } from '../html.ts';

/**
 * The HubSpot OAuth install (hubspot.md §4): /install redirects to the authorize page with our
 * scopes and a signed, expiring state; /callback checks the state, exchanges the code, learns
 * the portal from the token metadata, stores the tokens encrypted and hands the new portal to
 * the daemon (which provisions properties and starts the backfill).
 */

/** Required scopes (hubspot.md §4 "Scopes this daemon needs"). */
export const HUBSPOT_SCOPES = [
  'oauth',
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.deals.read',
  'tickets',
] as const;
/** Emails need sales-email-read; feedback needs Service Hub Pro (§4): an account without them still installs. */
export const HUBSPOT_OPTIONAL_SCOPES = ['sales-email-read', 'crm.objects.feedback_submissions.read'] as const;

export const CALLBACK_PATH = '/oauth/hubspot/callback';


export function createInstallRoutes(deps: {
  store: Store;
  config: Config;
  logger: Logger;
  now(): number;
  onInstalled(portal: string): void;
  fetch?: FetchFn;
}) {
  const { config, store } = deps;
  const log = deps.logger.child({ route: 'oauth/hubspot' });
  const stateKey = config.encryptionKey === undefined ? undefined : deriveStateKey(config.encryptionKey);
  const redirectUri = `${config.publicUrl.replace(/\/+$/, '')}${CALLBACK_PATH}`;
  const installs = { ok: 0, failed: 0 };
  const guard = stateKey === undefined ? undefined : createInstallGuard({ stateKey, now: deps.now, crm: 'hubspot', publicUrl: config.publicUrl });
  const app = new Hono();

  const missing = (): string | undefined => {
    const m: string[] = [];
    if (config.hubspot.clientId === undefined) m.push('HUBSPOT_CLIENT_ID');
    if (config.hubspot.clientSecret === undefined) m.push('HUBSPOT_CLIENT_SECRET');
    if (config.encryptionKey === undefined) m.push('RAPPORT_ENCRYPTION_KEY');
    return m.length === 0 ? undefined : `Installing needs ${m.join(', ')} to be set on the Rapport server.`;
  };

  app.get('/install', (c) => {
    const why = missing();
    if (why !== undefined || guard === undefined || config.hubspot.clientId === undefined) {
      return c.html(messagePage('Rapport is not set up for installs', why ?? ''), 503);
    }
    const url = authorizeUrl({
      apiBaseUrl: config.hubspot.baseUrl,
      clientId: config.hubspot.clientId,
      redirectUri,
      scopes: HUBSPOT_SCOPES,
      optionalScopes: HUBSPOT_OPTIONAL_SCOPES,
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
    const { clientId, clientSecret } = config.hubspot;
    if (why !== undefined || guard === undefined || clientId === undefined || clientSecret === undefined) {
      return fail(503, 'Rapport is not set up for installs', why ?? '');
    }
    const q = c.req.query();
    const state = guard.finish(c, q['state']);
    if (!state.ok) {
      log.warn({ reason: state.reason }, 'install refused: bad state');
      if (state.reason === 'rate_limited') return fail(429, 'Too many install attempts', 'Please wait a minute and start the install again.');
      return fail(400, 'Install link expired or invalid', 'Please start the install again from the Rapport install link, in the same browser.');
    }
    if (q['error'] !== undefined) {
      // the query is anyone's text: a fixed page, the detail (capped) only in the log
      log.warn({ error: q['error'].slice(0, 100), description: q['error_description']?.slice(0, 300) }, 'install declined');
      return fail(400, 'HubSpot did not grant access', DECLINED_MESSAGE);
    }
    const code = q['code'];
    if (code === undefined || code === '' || code.length > 2048) return fail(400, 'Install failed', 'The callback carries no authorization code.');
    const client = { baseUrl: config.hubspot.baseUrl, clientId, clientSecret, ...(deps.fetch ? { fetch: deps.fetch } : {}) };
    let portal: string;
    try {
      const tokens = await exchangeCode(client, { code, redirectUri });
      const info = await accessTokenInfo(client, tokens.accessToken);
      if (config.hubspot.appId !== undefined && info.appId !== null && String(info.appId) !== config.hubspot.appId) {
        return fail(400, 'Install failed', 'The token was issued to another app than the one this Rapport is configured for.');
      }
      portal = `hubspot:${info.hubId}`;
      const at = deps.now();
      await store.portals.install(
        { portal, crm: 'hubspot', externalId: String(info.hubId), baseUrl: config.hubspot.baseUrl, scopes: info.scopes },
        { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: at + tokens.expiresInSec * 1000 },
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
    return c.html(messagePage('Rapport is installed', `Portal ${portal.slice('hubspot:'.length)} is connected. Scores appear on contacts once the first sync and scoring finish.`), 200);
  });

  return { app, installs: () => ({ ...installs }) };
}
