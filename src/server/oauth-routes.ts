import { Hono } from 'hono';
import type { Config } from '../config.ts';
import { providerSettings } from '../config.ts';
import type { CrmProvider, FetchFn } from '../connectors/provider.ts';
import type { Registry } from '../connectors/registry.ts';
import { CrmError } from '../errors.ts';
import { messagePage } from '../html.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { createInstallGuard, DECLINED_MESSAGE } from './install-guard.ts';
import { deriveStateKey, pkceChallenge } from './oauth-state.ts';

/**
 * The OAuth install of every CRM, at `/oauth/<crm>/install` and `/oauth/<crm>/callback`
 * (RFC 6749 §4.1, the authorization-code grant): /install redirects to the CRM's authorize page
 * (the provider's `oauth.authorizeUrl`) with a signed, expiring state bound to the browser
 * (install-guard.ts) and a PKCE code challenge; /callback checks the state, has the provider exchange the code for an
 * installation and tokens, stores the tokens encrypted with the portals row, and hands the new
 * portal to the daemon (which provisions and starts the backfill). The CRM specifics (scopes,
 * which answer names the account, refusals) live in each `src/connectors/<crm>/provider.ts`.
 */

export const callbackPath = (crm: string): string => `/oauth/${crm}/callback`;
export const installPath = (crm: string): string => `/oauth/${crm}/install`;

export type InstallCounts = { ok: number; failed: number };

export function createOAuthRoutes(deps: {
  store: Store;
  config: Config;
  logger: Logger;
  providers: Registry;
  now(): number;
  onInstalled(portal: string): void;
  /** tests: the fetch used for the CRM's token endpoint */
  fetch?: FetchFn;
}) {
  const { config, store } = deps;
  const publicBase = config.publicUrl.replace(/\/+$/, '');
  // one state key for every CRM: a state proves only that this server started the flow in the
  // last 10 minutes (CSRF), whichever CRM it was for; the cookie is per CRM
  const stateKey = config.encryptionKey === undefined ? undefined : deriveStateKey(config.encryptionKey);
  const counts = new Map<string, InstallCounts>();
  const guards = new Map<string, ReturnType<typeof createInstallGuard>>();
  const guardOf = (crm: string) => {
    if (stateKey === undefined) return undefined;
    let g = guards.get(crm);
    if (g === undefined) guards.set(crm, (g = createInstallGuard({ stateKey, now: deps.now, crm, publicUrl: config.publicUrl })));
    return g;
  };
  const countOf = (crm: string) => {
    let c = counts.get(crm);
    if (c === undefined) counts.set(crm, (c = { ok: 0, failed: 0 }));
    return c;
  };

  /** the missing settings, in words; undefined when installs can run */
  const notReady = (provider: CrmProvider, settings: unknown): string | undefined => {
    const m = [...provider.oauth.missing(settings), ...(config.encryptionKey === undefined ? ['RAPPORT_ENCRYPTION_KEY'] : [])];
    return m.length === 0 ? undefined : `Installing on ${provider.label} needs ${m.join(', ')} to be set on the Rapport server.`;
  };

  const app = new Hono();

  app.get('/:crm/install', (c) => {
    const provider = deps.providers.get(c.req.param('crm'));
    if (provider === undefined) return c.json({ error: 'not_found' }, 404);
    const settings = providerSettings(config, provider);
    const why = notReady(provider, settings);
    const guard = guardOf(provider.name);
    if (why !== undefined || guard === undefined) return c.html(messagePage(`Rapport is not set up for ${provider.label} installs`, why ?? ''), 503);
    const ctx = provider.oauth.installContext?.(settings, c.req.query()) ?? { ok: true as const, context: undefined };
    if (!ctx.ok) return c.html(messagePage('Install link not valid', ctx.message), 400);
    const { state, codeVerifier } = guard.begin(c, ctx.context);
    // PKCE (RFC 7636, S256): the verifier is derived from the state's nonce server-side (oauth-state.ts)
    const url = provider.oauth.authorizeUrl(settings, {
      redirectUri: `${publicBase}${callbackPath(provider.name)}`,
      state,
      codeChallenge: pkceChallenge(codeVerifier),
      context: ctx.context,
    });
    return c.redirect(url, 302);
  });

  app.get('/:crm/callback', async (c) => {
    const provider = deps.providers.get(c.req.param('crm'));
    if (provider === undefined) return c.json({ error: 'not_found' }, 404);
    const log = deps.logger.child({ route: `oauth/${provider.name}` });
    const fail = (status: 400 | 429 | 502 | 503, title: string, body: string) => {
      countOf(provider.name).failed += 1;
      return c.html(messagePage(title, body), status);
    };
    const settings = providerSettings(config, provider);
    const why = notReady(provider, settings);
    const guard = guardOf(provider.name);
    if (why !== undefined || guard === undefined) return fail(503, `Rapport is not set up for ${provider.label} installs`, why ?? '');
    const q = c.req.query();
    const state = guard.finish(c, q['state']);
    if (!state.ok) {
      log.warn({ reason: state.reason }, 'install refused: bad state');
      if (state.reason === 'rate_limited') return fail(429, 'Too many install attempts', 'Please wait a minute and start the install again.');
      return fail(400, 'Install link expired or invalid', 'Please start the install again from the Rapport install link, in the same browser.');
    }
    if (q['error'] !== undefined) {
      // e.g. access_denied when the admin refuses (RFC 6749 §4.1.2.1); the query is anyone's
      // text: a fixed page, the detail (capped) only in the log
      log.warn({ error: q['error'].slice(0, 100), description: q['error_description']?.slice(0, 300) }, 'install declined');
      return fail(400, `${provider.label} did not grant access`, DECLINED_MESSAGE);
    }
    const code = q['code'];
    if (code === undefined || code === '' || code.length > 2048) return fail(400, 'Install failed', 'The callback carries no authorization code.');
    let portal: string;
    let externalId: string;
    try {
      const r = await provider.oauth.exchange(settings, {
        code,
        redirectUri: `${publicBase}${callbackPath(provider.name)}`,
        codeVerifier: state.codeVerifier,
        context: state.context,
        now: deps.now(),
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
      });
      if (!r.ok) return fail(400, 'Install failed', r.message);
      const { installation, tokens } = r;
      if (installation.crm !== provider.name || !installation.portal.startsWith(`${provider.name}:`)) {
        throw new Error(`provider ${provider.name} answered an installation of ${installation.portal}`);
      }
      portal = installation.portal;
      externalId = installation.externalId;
      await store.portals.install(installation, tokens);
    } catch (e) {
      if (!(e instanceof CrmError)) throw e;
      log.warn({ kind: e.kind, status: e.details.status, code: e.details.code }, 'install failed');
      return fail(502, 'Install failed', `${e.message}. Please try again.`);
    }
    countOf(provider.name).ok += 1;
    log.info({ portal }, 'portal installed');
    try {
      deps.onInstalled(portal);
    } catch (e) {
      log.error({ portal, err: (e as Error).message }, 'onInstalled failed');
    }
    return c.html(messagePage('Rapport is installed', `${provider.label} account ${externalId} is connected. Scores appear on contacts once the first sync and scoring finish.`), 200);
  });

  return {
    app,
    /** installs finished and refused, per CRM name */
    installs: (): Record<string, InstallCounts> => Object.fromEntries([...counts].map(([k, v]) => [k, { ...v }])),
  };
}
