import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { SandboxPortals } from './types.ts';

/**
 * The sandbox's HubSpot accounts ("portals", identified by a numeric hub id) and every credential
 * that can call them: private-app tokens, and OAuth authorization codes, access tokens and refresh
 * tokens issued to registered apps. Held in memory: an account has a handful of tokens, and the
 * sandbox's records live in its own SQLite file (storage.ts), not here.
 *
 * Lifetimes follow https://developers.hubspot.com/docs/api/oauth-quickstart-guide: access tokens live `expires_in` = 1800 s of the SANDBOX clock
 * (so tests expire them with `clock.advance`), refresh tokens never expire on a timer and die only
 * on uninstall (`revoke`) or DELETE; a refresh returns a new access token and the SAME refresh token.
 */

/** An OAuth app registered with the sandbox (the real app's id, client id and secret). */
export type OAuthApp = {
  clientId: string;
  clientSecret: string;
  appId: number;
  /** scopes the app's settings mark required: the authorize URL's `scope` must include them all (https://developers.hubspot.com/docs/api/oauth-quickstart-guide) */
  requiredScopes?: readonly string[];
  /** the app's configured redirect URLs: when given, `redirect_uri` must be one of them exactly */
  redirectUris?: readonly string[];
};

/** What a valid bearer token grants. */
export type Grant = {
  hubId: number;
  scopes: string[];
  kind: 'private-app' | 'oauth';
  /** OAuth tokens only */
  appId?: number;
};

export type PortalAuthResult = Grant | { error: 'expired'; expiredAt: number } | { error: 'invalid' | 'revoked' };

/** The failures of the token endpoint, with HubSpot's `status` codes (https://developers.hubspot.com/docs/api/oauth-quickstart-guide and its errors list). */
export type TokenErrorCode =
  | 'BAD_GRANT_TYPE'
  | 'BAD_CLIENT_ID'
  | 'BAD_CLIENT_SECRET'
  | 'BAD_AUTH_CODE'
  | 'EXPIRED_AUTH_CODE'
  | 'BAD_REDIRECT_URI'
  | 'BAD_REFRESH_TOKEN';

export type IssuedTokens = {
  accessToken: string;
  refreshToken: string;
  /** seconds */
  expiresIn: number;
  hubId: number;
  scopes: string[];
};

export type AccessTokenInfo = {
  token: string;
  user: string;
  hubDomain: string;
  scopes: string[];
  hubId: number;
  appId: number;
  userId: number;
  /** seconds left, 0 once expired */
  expiresIn: number;
  expiresAt: number;
};

export type RefreshTokenInfo = {
  token: string;
  user: string;
  hubDomain: string;
  scopes: string[];
  hubId: number;
  clientId: string;
  userId: number;
};

export type SandboxPortalsImpl = SandboxPortals & {
  authenticate(bearer: string): PortalAuthResult;
  has(hubId: number): boolean;
  /** Whether the portal uninstalled the app (`revoke`) and has not installed it again since: webhooks stop. */
  isRevoked(hubId: number): boolean;
  registerApp(app: OAuthApp): void;
  app(clientId: string): OAuthApp | undefined;
  /** The portal the authorize page installs into when no `hub_id` is given: the first portal this app was never installed in, else a new one. */
  nextPortalFor(appId: number): number;
  /** After consent: a single-use code bound to the app, redirect URI, portal and scopes. */
  issueCode(opts: { clientId: string; redirectUri: string; hubId: number; scopes: readonly string[] }): string;
  /** `grant_type=authorization_code`; the caller has already checked client id and secret. */
  redeemCode(opts: { code: string; clientId: string; redirectUri: string }): IssuedTokens | { error: TokenErrorCode };
  /** `grant_type=refresh_token`. */
  refresh(opts: { refreshToken: string; clientId: string }): IssuedTokens | { error: TokenErrorCode };
  accessTokenInfo(token: string): AccessTokenInfo | undefined;
  refreshTokenInfo(token: string): RefreshTokenInfo | undefined;
  /** DELETE /oauth/v1/refresh-tokens/{token}: kills the refresh token only (issued access tokens live on). */
  deleteRefreshToken(token: string): boolean;
};

/** https://developers.hubspot.com/docs/api/oauth-quickstart-guide: `expires_in` 1800. */
export const ACCESS_TOKEN_TTL_MS = 1_800_000;
/** Authorization codes are short-lived and single-use; HubSpot's exact lifetime is unpublished, 10 min is ample. */
export const AUTH_CODE_TTL_MS = 600_000;
/** First hub id handed out: 8 digits like real portals (HubSpot's documented examples use 7–9). */
export const FIRST_HUB_ID = 12_345_678;

/**
 * Scopes a private-app token gets unless told otherwise: everything Rapport's connector needs
 * (https://developers.hubspot.com/scopes; the scopes Rapport asks for are in src/connectors/hubspot/provider.ts).
 */
export const DEFAULT_PRIVATE_APP_SCOPES: readonly string[] = [
  'crm.objects.contacts.read',
  'crm.objects.contacts.write',
  'crm.objects.companies.read',
  'crm.objects.deals.read',
  'tickets',
  'sales-email-read',
  'crm.objects.feedback_submissions.read',
  'crm.schemas.contacts.read',
  'crm.schemas.contacts.write',
  'crm.objects.owners.read',
];

/**
 * Scope names the authorize page accepts. HubSpot rejects unknown scopes at consent; this list is
 * the subset of HubSpot's scope catalogue a CRM integration plausibly asks for.
 */
export const KNOWN_SCOPES: ReadonlySet<string> = new Set([
  'oauth',
  'tickets',
  'e-commerce',
  'sales-email-read',
  'timeline',
  'forms',
  'content',
  'automation',
  'crm.objects.owners.read',
  'crm.objects.users.read',
  'crm.objects.feedback_submissions.read',
  'crm.lists.read',
  'crm.lists.write',
  ...['contacts', 'companies', 'deals', 'line_items', 'quotes', 'custom', 'products', 'leads'].flatMap((o) => [
    `crm.objects.${o}.read`,
    `crm.objects.${o}.write`,
  ]),
  ...['contacts', 'companies', 'deals', 'line_items', 'quotes', 'custom', 'tickets'].flatMap((o) => [
    `crm.schemas.${o}.read`,
    `crm.schemas.${o}.write`,
  ]),
]);

type AccessTokenRow = {
  token: string;
  hubId: number;
  appId: number;
  clientId: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
};
type RefreshTokenRow = { token: string; hubId: number; appId: number; clientId: string; scopes: string[]; revoked: boolean };
type PrivateTokenRow = { token: string; hubId: number; scopes: string[]; revoked: boolean };
type CodeRow = { code: string; clientId: string; redirectUri: string; hubId: number; scopes: string[]; expiresAt: number; used: boolean };

/** Synthetic installer identity: HubSpot reports the installing user's email and id in token metadata. */
const installerEmail = (hubId: number): string => `admin@portal-${hubId}.sandbox.test`;
const hubDomain = (hubId: number): string => `portal-${hubId}.sandbox.test`;
const installerUserId = (hubId: number): number => 1_000_000 + (hubId % 1_000_000);

/** Opaque, unguessable tokens shaped roughly like HubSpot's (access tokens grow up to 512 chars; https://developers.hubspot.com/docs/api/oauth-quickstart-guide). */
const newAccessToken = (): string => `C${randomBytes(48).toString('base64url')}`;
const newRefreshToken = (): string => `na1-${randomUUID()}`;
const newPrivateAppToken = (): string => `pat-na1-${randomUUID()}`;
const newCode = (): string => randomUUID();

export function createSandboxPortals(opts: { clock: Clock; apps?: readonly OAuthApp[] }): SandboxPortalsImpl {
  const { clock } = opts;
  const portals = new Map<number, { hubId: number; createdAt: number }>();
  const apps = new Map<string, OAuthApp>();
  const privateTokens = new Map<string, PrivateTokenRow>();
  const accessTokens = new Map<string, AccessTokenRow>();
  const refreshTokens = new Map<string, RefreshTokenRow>();
  const codes = new Map<string, CodeRow>();
  /** `${appId}:${hubId}` pairs that ever installed: the authorize page's default skips them */
  const everInstalled = new Set<string>();
  const revokedHubs = new Set<number>();
  let nextHubId = FIRST_HUB_ID;

  for (const app of opts.apps ?? []) registerApp(app);

  function registerApp(app: OAuthApp): void {
    if (app.clientId === '' || app.clientSecret === '') throw new Error('an OAuth app needs a client id and a client secret');
    apps.set(app.clientId, { ...app });
  }

  function create(o: { hubId?: number; privateAppToken?: string; scopes?: string[] } = {}): { hubId: number; token: string } {
    let hubId = o.hubId;
    if (hubId === undefined) {
      while (portals.has(nextHubId)) nextHubId++;
      hubId = nextHubId++;
    } else if (!Number.isSafeInteger(hubId) || hubId <= 0) {
      throw new RangeError(`a hub id is a positive integer, got ${hubId}`);
    } else if (portals.has(hubId)) {
      throw new Error(`portal ${hubId} already exists`);
    }
    const token = o.privateAppToken ?? newPrivateAppToken();
    if (token === '' || privateTokens.has(token) || accessTokens.has(token)) throw new Error('that private-app token is empty or already in use');
    portals.set(hubId, { hubId, createdAt: clock.now() });
    privateTokens.set(token, { token, hubId, scopes: [...(o.scopes ?? DEFAULT_PRIVATE_APP_SCOPES)], revoked: false });
    return { hubId, token };
  }

  function authenticate(bearer: string): PortalAuthResult {
    const priv = privateTokens.get(bearer);
    if (priv !== undefined) {
      return priv.revoked ? { error: 'revoked' } : { hubId: priv.hubId, scopes: [...priv.scopes], kind: 'private-app' };
    }
    const access = accessTokens.get(bearer);
    if (access === undefined) return { error: 'invalid' };
    if (access.revoked) return { error: 'revoked' };
    if (clock.now() >= access.expiresAt) return { error: 'expired', expiredAt: access.expiresAt };
    return { hubId: access.hubId, scopes: [...access.scopes], kind: 'oauth', appId: access.appId };
  }

  function issueAccessToken(r: { hubId: number; appId: number; clientId: string; scopes: string[] }): AccessTokenRow {
    const now = clock.now();
    const row: AccessTokenRow = { token: newAccessToken(), ...r, scopes: [...r.scopes], issuedAt: now, expiresAt: now + ACCESS_TOKEN_TTL_MS, revoked: false };
    accessTokens.set(row.token, row);
    return row;
  }

  const issued = (access: AccessTokenRow, refreshToken: string): IssuedTokens => ({
    accessToken: access.token,
    refreshToken,
    expiresIn: Math.round((access.expiresAt - clock.now()) / 1000),
    hubId: access.hubId,
    scopes: [...access.scopes],
  });

  return {
    create,
    list: () => [...portals.keys()],
    has: (hubId) => portals.has(hubId),
    isRevoked: (hubId) => revokedHubs.has(hubId),
    authenticate,
    registerApp,
    app: (clientId) => apps.get(clientId),

    expireAccessTokens(hubId) {
      const now = clock.now();
      for (const t of accessTokens.values()) if (t.hubId === hubId && t.expiresAt > now) t.expiresAt = now;
    },

    /** Uninstall: every credential of the portal stops working (401), including private-app tokens. */
    revoke(hubId) {
      for (const t of privateTokens.values()) if (t.hubId === hubId) t.revoked = true;
      for (const t of accessTokens.values()) if (t.hubId === hubId) t.revoked = true;
      for (const t of refreshTokens.values()) if (t.hubId === hubId) t.revoked = true;
      for (const c of codes.values()) if (c.hubId === hubId) c.used = true;
      revokedHubs.add(hubId);
    },

    nextPortalFor(appId) {
      for (const hubId of portals.keys()) if (!everInstalled.has(`${appId}:${hubId}`)) return hubId;
      return create().hubId;
    },

    issueCode(o) {
      const app = apps.get(o.clientId);
      if (app === undefined) throw new Error('issueCode: unknown client id');
      if (!portals.has(o.hubId)) throw new Error(`issueCode: no portal ${o.hubId}`);
      const code = newCode();
      codes.set(code, { code, clientId: o.clientId, redirectUri: o.redirectUri, hubId: o.hubId, scopes: [...o.scopes], expiresAt: clock.now() + AUTH_CODE_TTL_MS, used: false });
      everInstalled.add(`${app.appId}:${o.hubId}`);
      revokedHubs.delete(o.hubId);
      return code;
    },

    redeemCode(o) {
      const row = codes.get(o.code);
      if (row === undefined || row.used || row.clientId !== o.clientId) return { error: 'BAD_AUTH_CODE' };
      if (clock.now() >= row.expiresAt) return { error: 'EXPIRED_AUTH_CODE' };
      if (row.redirectUri !== o.redirectUri) return { error: 'BAD_REDIRECT_URI' };
      const app = apps.get(row.clientId);
      if (app === undefined) return { error: 'BAD_AUTH_CODE' };
      row.used = true;
      const grant = { hubId: row.hubId, appId: app.appId, clientId: app.clientId, scopes: row.scopes };
      const refresh: RefreshTokenRow = { token: newRefreshToken(), ...grant, scopes: [...grant.scopes], revoked: false };
      refreshTokens.set(refresh.token, refresh);
      return issued(issueAccessToken(grant), refresh.token);
    },

    refresh(o) {
      const row = refreshTokens.get(o.refreshToken);
      if (row === undefined || row.revoked || row.clientId !== o.clientId) return { error: 'BAD_REFRESH_TOKEN' };
      return issued(issueAccessToken({ hubId: row.hubId, appId: row.appId, clientId: row.clientId, scopes: row.scopes }), row.token);
    },

    accessTokenInfo(token) {
      const row = accessTokens.get(token);
      if (row === undefined || row.revoked) return undefined;
      return {
        token: row.token,
        user: installerEmail(row.hubId),
        hubDomain: hubDomain(row.hubId),
        scopes: [...row.scopes],
        hubId: row.hubId,
        appId: row.appId,
        userId: installerUserId(row.hubId),
        expiresIn: Math.max(0, Math.floor((row.expiresAt - clock.now()) / 1000)),
        expiresAt: row.expiresAt,
      };
    },

    refreshTokenInfo(token) {
      const row = refreshTokens.get(token);
      if (row === undefined || row.revoked) return undefined;
      return {
        token: row.token,
        user: installerEmail(row.hubId),
        hubDomain: hubDomain(row.hubId),
        scopes: [...row.scopes],
        hubId: row.hubId,
        clientId: row.clientId,
        userId: installerUserId(row.hubId),
      };
    },

    deleteRefreshToken(token) {
      const row = refreshTokens.get(token);
      if (row === undefined || row.revoked) return false;
      row.revoked = true;
      return true;
    },
  };
}
