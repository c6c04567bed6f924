import { providerSettings, type Config } from '../config.ts';
import type { CrmProvider, FetchFn } from '../connectors/provider.ts';
import { defaultRegistry, type Registry } from '../connectors/registry.ts';
import { ConfigError, CrmError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { TokenUnreadableError, type Tokens } from '../store/portals.ts';

/**
 * Access tokens per OAuth-installed portal, for every CRM: one refresh path that calls the
 * portal's provider (`provider.oauth.refresh`). Tokens with an expiry are refreshed ahead of it;
 * every token is refreshed once more when a call still gets a 401 (tokens without an expiry only
 * then). Concurrent callers share one refresh. A grant the CRM refuses to refresh (uninstall,
 * revoke) marks only that portal disconnected. A refresh answer without a refresh token keeps the
 * stored one. Connections without stored tokens (static ones, e.g. a private-app token) carry
 * their own token and do not come here.
 */

export type TokenManager = {
  accessToken(portal: string): Promise<string>;
  /** Called once after a 401: a fresh token to retry with, or null when there is none to be had. */
  onUnauthorized(portal: string): Promise<string | null>;
  /** where the portal's API lives now (the stored baseUrl; a refresh can change it) */
  baseUrl(portal: string): Promise<string | undefined>;
  stats(): { refreshes: number; refreshFailures: number; disconnects: number };
};

/** Refresh when less than this is left (expiring tokens typically live 30 min). */
export const REFRESH_AHEAD_MS = 5 * 60_000;
/**
 * A token read from the store serves this process's calls for this long before it is read again
 * (never past its refresh-ahead point). Each read was two queries and a decryption per CRM call:
 * a backfill's worth of them, a fifth of a page's round trips to Postgres (bench:scale). Another
 * process's refresh does not end the old token (it lives to its own expiry), and one the CRM
 * revoked meanwhile (an uninstall) gets a 401, which reads the store again (`onUnauthorized`).
 */
export const TOKEN_REUSE_MS = 5_000;
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
export const tokenUnreadableReason = (publicUrl: string, crm: string) =>
  `token unreadable: the stored token cannot be decrypted with the configured key (a damaged row, or a key changed without \`rapport keys rotate\`); ` +
  `reinstall via ${publicUrl.replace(/\/+$/, '')}/oauth/${crm}/install`;

export async function createTokenManager(deps: {
  store: Pick<Store, 'portals'>;
  config: Config;
  now: () => number;
  /** the CRMs (default: the product's) */
  providers?: Registry;
  fetch?: FetchFn;
  logger?: Logger;
}): Promise<TokenManager> {
  const keyUsed = await assertTokensReadable(deps.store, deps.config);
  const { store, config, now } = deps;
  const providers = deps.providers ?? defaultRegistry;
  const log = (deps.logger ?? silentLogger).child({ component: 'tokens' });
  if (keyUsed === 'previous') log.warn({}, 'stored tokens are sealed with RAPPORT_ENCRYPTION_KEY_PREVIOUS: run `rapport keys rotate`');
  const inFlight = new Map<string, Promise<string>>();
  const reuse = new Map<string, { token: string; until: number }>();
  const remember = (portal: string, token: string, expiresAt: number | null): string => {
    const until = Math.min(now() + TOKEN_REUSE_MS, expiresAt === null ? Infinity : expiresAt - REFRESH_AHEAD_MS);
    if (until > now()) reuse.set(portal, { token, until });
    return token;
  };
  const lastRefresh = new Map<string, number>();
  const counters = { refreshes: 0, refreshFailures: 0, disconnects: 0 };
  const reinstall = (crm: string) => `reinstall via ${config.publicUrl.replace(/\/+$/, '')}/oauth/${crm}/install`;
  const crmOf = async (portal: string): Promise<string> => (await store.portals.get(portal))?.crm ?? portal.split(':')[0] ?? portal;

  /**
   * The stored tokens; one that no key decrypts disconnects only its portal (issue 15 item 6:
   * it used to take every tenant down) and fails the call as an auth error.
   */
  async function storedTokens(portal: string): Promise<Tokens | undefined> {
    try {
      return await store.portals.tokens(portal);
    } catch (e) {
      if (!(e instanceof TokenUnreadableError)) throw e;
      const crm = await crmOf(portal);
      const reason = tokenUnreadableReason(config.publicUrl, crm);
      await store.portals.markDisconnected(portal, reason);
      counters.disconnects += 1;
      log.error({ portal, code: e.code }, 'portal disconnected: stored token unreadable');
      throw new CrmError('auth', `Portal ${portal}: ${reason}`, { crm, code: 'TOKEN_UNREADABLE' });
    }
  }

  const disconnectedError = (portal: string, crm: string, reason: string | null) =>
    new CrmError('auth', `Portal ${portal} is disconnected: ${reason ?? 'no reason recorded'}`, { crm, code: 'DISCONNECTED' });

  async function doRefresh(portal: string): Promise<string> {
    const row = await store.portals.get(portal);
    const crm = await crmOf(portal);
    const provider: CrmProvider | undefined = providers.get(crm);
    if (row === undefined || provider === undefined) {
      throw new CrmError('auth', `Portal ${portal} is not an installed portal of a known CRM: ${reinstall(crm)}`, { crm });
    }
    const stored = await storedTokens(portal);
    if (stored === undefined || stored.refreshToken === null) {
      throw new CrmError('auth', `Portal ${portal} has no refresh token: ${reinstall(crm)}`, { crm });
    }
    const settings = providerSettings(config, provider);
    const missing = provider.oauth.missing(settings);
    if (missing.length > 0) {
      throw new CrmError('auth', `Cannot refresh tokens of ${portal}: ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set`, { crm });
    }
    try {
      const at = now();
      const fresh = await provider.oauth.refresh(settings, {
        installation: { portal, crm, externalId: row.externalId, baseUrl: row.baseUrl, scopes: row.scopes },
        refreshToken: stored.refreshToken,
        now: at,
        ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
      });
      await store.portals.saveTokens(portal, { accessToken: fresh.accessToken, refreshToken: fresh.refreshToken ?? stored.refreshToken, expiresAt: fresh.expiresAt });
      if (fresh.baseUrl !== undefined && fresh.baseUrl !== row.baseUrl) {
        // the CRM moved the account's API (e.g. a renamed Salesforce My Domain): later calls and refreshes go there
        await store.portals.upsert({ portal, crm: row.crm, externalId: row.externalId, baseUrl: fresh.baseUrl, scopes: row.scopes });
        log.info({ portal }, 'API base URL changed on refresh; stored');
      }
      lastRefresh.set(portal, at);
      remember(portal, fresh.accessToken, fresh.expiresAt);
      counters.refreshes += 1;
      log.info({ portal, ...(fresh.expiresAt === null ? {} : { expiresInSec: Math.round((fresh.expiresAt - at) / 1000) }) }, 'access token refreshed');
      return fresh.accessToken;
    } catch (e) {
      counters.refreshFailures += 1;
      if (e instanceof CrmError && e.kind === 'auth') {
        const code = e.details.code ?? `HTTP ${e.details.status ?? '?'}`;
        const reason = `${provider.label} refused to refresh the access token (${code}): ${provider.hints.refreshRefused}; ${reinstall(crm)}`;
        await store.portals.markDisconnected(portal, reason);
        counters.disconnects += 1;
        log.warn({ portal, code }, 'portal disconnected');
        throw new CrmError('auth', reason, { crm, ...(e.details.code ? { code: e.details.code } : {}) }, { cause: e });
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
      const reused = reuse.get(portal);
      if (reused !== undefined && now() < reused.until) return reused.token;
      reuse.delete(portal);
      const row = await store.portals.get(portal);
      if (row?.status === 'disconnected') throw disconnectedError(portal, row.crm, row.statusReason);
      const stored = await storedTokens(portal);
      if (stored === undefined) {
        const crm = await crmOf(portal);
        throw new CrmError('auth', `No tokens for portal ${portal}: ${reinstall(crm)}`, { crm });
      }
      if (stored.expiresAt === null || stored.expiresAt - now() > REFRESH_AHEAD_MS) return remember(portal, stored.accessToken, stored.expiresAt);
      try {
        return await refresh(portal);
      } catch (e) {
        // a transient refresh failure while the old token still works is not worth failing a call
        if (!(e instanceof CrmError && e.kind === 'auth') && stored.expiresAt > now()) return stored.accessToken;
        throw e;
      }
    },
    async onUnauthorized(portal) {
      reuse.delete(portal);
      let stored: Tokens | undefined;
      try {
        stored = await storedTokens(portal);
      } catch (e) {
        if (e instanceof CrmError && e.kind === 'auth') return null; // unreadable: portal disconnected
        throw e;
      }
      if (stored === undefined) return null; // nothing stored: nothing to refresh
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
    baseUrl: async (portal) => (await store.portals.get(portal))?.baseUrl,
    stats: () => ({ ...counters }),
  };
}
