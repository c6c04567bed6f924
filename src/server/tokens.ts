import type { Config } from '../config.ts';
import { refreshTokens, type FetchFn } from '../connectors/hubspot/oauth.ts';
import { refreshAccessToken } from '../connectors/salesforce/oauth.ts';
import { ConfigError, CrmError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { TokenUnreadableError, type Tokens } from '../store/portals.ts';

/**
 * Access tokens per portal. OAuth tokens are refreshed ahead of expiry (HubSpot: refresh by
 * `expires_in`, not on 401 — hubspot.md §4) and once more when a call still gets a 401. A grant
 * HubSpot refuses to refresh (uninstall, revoke) marks only that portal disconnected. A
 * private-app portal (HUBSPOT_ACCESS_TOKEN) has no stored tokens and gets the constant token.
 *
 * Salesforce portals (crm 'salesforce'): token answers carry no `expires_in` (the session timeout
 * is an org setting, salesforce.md §4), so the stored token has no expiry and is refreshed only
 * when a call answers 401 INVALID_SESSION_ID (once, via onUnauthorized). Salesforce does not
 * rotate refresh tokens by default: a refresh keeps the stored one unless a new one comes back.
 */

export type TokenManager = {
  accessToken(portal: string): Promise<string>;
  /** Called once after a 401: a fresh token to retry with, or null when there is none to be had. */
  onUnauthorized(portal: string): Promise<string | null>;
  stats(): { refreshes: number; refreshFailures: number; disconnects: number };
};

/** Refresh when less than this is left (tokens live 1800 s). */
export const REFRESH_AHEAD_MS = 5 * 60_000;
/** A 401 right after a refresh means the new token is refused too: don't refresh in a loop. */
const RECENT_REFRESH_MS = 5_000;

/**
 * Stored tokens can't be read without the key: refuse to start rather than fail on every call.
 * A key that does not match the stored key-check value is a configuration error too (exit 3),
 * not one "unable to authenticate data" per portal. Returns which key matched.
 */
export async function assertTokensReadable(store: Pick<Store, 'portals'>, config: Config): Promise<'current' | 'previous' | 'no_key'> {
  if (config.encryptionKey === undefined && (await store.portals.hasTokens())) {
    throw new ConfigError([
      'RAPPORT_ENCRYPTION_KEY is not set, but the database holds encrypted CRM tokens: set the key they were stored with',
    ]);
  }
  const check = await store.portals.keyCheck();
  if (check === 'mismatch') {
    throw new ConfigError([
      (config.previousEncryptionKey === undefined ? 'RAPPORT_ENCRYPTION_KEY does not' : 'Neither RAPPORT_ENCRYPTION_KEY nor RAPPORT_ENCRYPTION_KEY_PREVIOUS does') +
        ' match the key the stored CRM tokens were encrypted with: set the key they were stored with. To change keys, set the old one as ' +
        'RAPPORT_ENCRYPTION_KEY_PREVIOUS and the new one as RAPPORT_ENCRYPTION_KEY, then run `rapport keys rotate` (docs/operations.md, "Keys and files")',
    ]);
  }
  return check;
}

/** What a portal whose stored token no key decrypts shows in `rapport status`. */
export const tokenUnreadableReason = (publicUrl: string, crm: 'hubspot' | 'salesforce') =>
  `token unreadable: the stored token cannot be decrypted with the configured key (a damaged row, or a key changed without \`rapport keys rotate\`); ` +
  `reinstall via ${publicUrl.replace(/\/+$/, '')}/oauth/${crm}/install`;

export async function createTokenManager(deps: {
  store: Pick<Store, 'portals'>;
  config: Config;
  now: () => number;
  fetch?: FetchFn;
  logger?: Logger;
}): Promise<TokenManager> {
  const keyUsed = await assertTokensReadable(deps.store, deps.config);
  const { store, config, now } = deps;
  const log = (deps.logger ?? silentLogger).child({ component: 'tokens' });
  if (keyUsed === 'previous') log.warn({}, 'stored tokens are sealed with RAPPORT_ENCRYPTION_KEY_PREVIOUS: run `rapport keys rotate`');
  const inFlight = new Map<string, Promise<string>>();
  const lastRefresh = new Map<string, number>();
  const counters = { refreshes: 0, refreshFailures: 0, disconnects: 0 };
  const reinstall = `reinstall the app via ${config.publicUrl.replace(/\/+$/, '')}/oauth/hubspot/install`;
  const reinstallSalesforce = `reinstall via ${config.publicUrl.replace(/\/+$/, '')}/oauth/salesforce/install`;

  /**
   * The stored tokens; one that no key decrypts disconnects only its portal (issue 15 item 6:
   * it used to take every tenant down) and fails the call as an auth error.
   */
  async function storedTokens(portal: string): Promise<Tokens | undefined> {
    try {
      return await store.portals.tokens(portal);
    } catch (e) {
      if (!(e instanceof TokenUnreadableError)) throw e;
      const crm = (await store.portals.get(portal))?.crm ?? 'hubspot';
      const reason = tokenUnreadableReason(config.publicUrl, crm);
      await store.portals.markDisconnected(portal, reason);
      counters.disconnects += 1;
      log.error({ portal, code: e.code }, 'portal disconnected: stored token unreadable');
      throw new CrmError('auth', `Portal ${portal}: ${reason}`, { crm, code: 'TOKEN_UNREADABLE' });
    }
  }

  const disconnectedError = (portal: string, reason: string | null) =>
    new CrmError('auth', `Portal ${portal} is disconnected: ${reason ?? 'no reason recorded'}`, {
      crm: portal.startsWith('salesforce:') ? 'salesforce' : 'hubspot',
      code: 'DISCONNECTED',
    });

  async function doRefreshSalesforce(portal: string): Promise<string> {
    const stored = await storedTokens(portal);
    if (stored === undefined || stored.refreshToken === null) {
      throw new CrmError('auth', `Portal ${portal} has no refresh token: ${reinstallSalesforce}`, { crm: 'salesforce' });
    }
    const { clientId, clientSecret, loginUrl } = config.salesforce;
    if (clientId === undefined || clientSecret === undefined) {
      throw new CrmError('auth', `Cannot refresh tokens of ${portal}: SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET are not set`, { crm: 'salesforce' });
    }
    try {
      const fresh = await refreshAccessToken({ loginUrl, clientId, clientSecret, ...(deps.fetch ? { fetch: deps.fetch } : {}) }, stored.refreshToken);
      if (fresh.portal !== portal) {
        // the refresh token answered for another org: never store its session under this portal
        throw new CrmError('bad_response', `Salesforce refreshed ${portal} with a token of ${fresh.portal}`, { crm: 'salesforce' });
      }
      await store.portals.saveTokens(portal, { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken ?? stored.refreshToken, expiresAt: null });
      lastRefresh.set(portal, now());
      counters.refreshes += 1;
      log.info({ portal }, 'access token refreshed');
      return fresh.accessToken;
    } catch (e) {
      counters.refreshFailures += 1;
      if (e instanceof CrmError && e.kind === 'auth') {
        const code = e.details.code ?? `HTTP ${e.details.status ?? '?'}`;
        const reason = `Salesforce refused to refresh the access token (${code}): the connected app's access was revoked or the refresh token expired; ${reinstallSalesforce}`;
        await store.portals.markDisconnected(portal, reason);
        counters.disconnects += 1;
        log.warn({ portal, code }, 'portal disconnected');
        throw new CrmError('auth', reason, { crm: 'salesforce', ...(e.details.code ? { code: e.details.code } : {}) }, { cause: e });
      }
      log.warn({ portal, kind: e instanceof CrmError ? e.kind : 'error' }, 'token refresh failed');
      throw e;
    }
  }

  async function doRefresh(portal: string): Promise<string> {
    if ((await store.portals.get(portal))?.crm === 'salesforce') return doRefreshSalesforce(portal);
    const stored = await storedTokens(portal);
    if (stored === undefined || stored.refreshToken === null) {
      throw new CrmError('auth', `Portal ${portal} has no refresh token: ${reinstall}`, { crm: 'hubspot' });
    }
    const { clientId, clientSecret } = config.hubspot;
    if (clientId === undefined || clientSecret === undefined) {
      throw new CrmError('auth', `Cannot refresh tokens of ${portal}: HUBSPOT_CLIENT_ID and HUBSPOT_CLIENT_SECRET are not set`, { crm: 'hubspot' });
    }
    const baseUrl = (await store.portals.get(portal))?.baseUrl ?? config.hubspot.baseUrl;
    try {
      const fresh = await refreshTokens({ baseUrl, clientId, clientSecret, ...(deps.fetch ? { fetch: deps.fetch } : {}) }, stored.refreshToken);
      const at = now();
      await store.portals.saveTokens(portal, {
        accessToken: fresh.accessToken,
        refreshToken: fresh.refreshToken,
        expiresAt: at + fresh.expiresInSec * 1000,
      });
      lastRefresh.set(portal, at);
      counters.refreshes += 1;
      log.info({ portal, expiresInSec: fresh.expiresInSec }, 'access token refreshed');
      return fresh.accessToken;
    } catch (e) {
      counters.refreshFailures += 1;
      if (e instanceof CrmError && e.kind === 'auth') {
        const code = e.details.code ?? `HTTP ${e.details.status ?? '?'}`;
        const reason = `HubSpot refused to refresh the access token (${code}): the app was uninstalled or its access revoked; ${reinstall}`;
        await store.portals.markDisconnected(portal, reason);
        counters.disconnects += 1;
        log.warn({ portal, code }, 'portal disconnected');
        throw new CrmError('auth', reason, { crm: 'hubspot', ...(e.details.code ? { code: e.details.code } : {}) }, { cause: e });
      }
      log.warn({ portal, kind: e instanceof CrmError ? e.kind : 'error' }, 'token refresh failed');
      throw e;
    }
  }

  /** Single flight per portal: concurrent callers share one refresh. */
  function refresh(portal: string): Promise<string> {
    let p = inFlight.get(portal);
    if (p === undefined) {
      p = doRefresh(portal).finally(() => inFlight.delete(portal));
      inFlight.set(portal, p);
    }
    return p;
  }

  return {
    async accessToken(portal) {
      const row = await store.portals.get(portal);
      if (row?.status === 'disconnected') throw disconnectedError(portal, row.statusReason);
      const stored = await storedTokens(portal);
      if (stored === undefined) {
        if (row?.crm === 'salesforce') throw new CrmError('auth', `No tokens for portal ${portal}: ${reinstallSalesforce}`, { crm: 'salesforce' });
        if (config.hubspot.accessToken !== undefined) return config.hubspot.accessToken;
        throw new CrmError('auth', `No tokens for portal ${portal}: ${reinstall}`, { crm: 'hubspot' });
      }
      if (stored.expiresAt === null || stored.expiresAt - now() > REFRESH_AHEAD_MS) return stored.accessToken;
      try {
        return await refresh(portal);
      } catch (e) {
        // a transient refresh failure while the old token still works is not worth failing a call
        if (!(e instanceof CrmError && e.kind === 'auth') && stored.expiresAt > now()) return stored.accessToken;
        throw e;
      }
    },
    async onUnauthorized(portal) {
      let stored: Tokens | undefined;
      try {
        stored = await storedTokens(portal);
      } catch (e) {
        if (e instanceof CrmError && e.kind === 'auth') return null; // unreadable: portal disconnected
        throw e;
      }
      if (stored === undefined) return null; // private-app token: nothing to refresh
      if ((await store.portals.get(portal))?.status === 'disconnected') return null;
      const pending = inFlight.get(portal);
      if (pending === undefined && now() - (lastRefresh.get(portal) ?? -Infinity) < RECENT_REFRESH_MS) {
        // someone refreshed a moment ago: retry with that token rather than refresh again
        return stored.accessToken;
      }
      try {
        return await (pending ?? refresh(portal));
      } catch (e) {
        if (e instanceof CrmError && e.kind === 'auth') return null;
        throw e;
      }
    },
    stats: () => ({ ...counters }),
  };
}
