import { z } from 'zod';
import { CrmError } from '../../errors.ts';

/**
 * HubSpot OAuth v1 over plain fetch (https://developers.hubspot.com/docs/api/oauth-quickstart-guide): authorize URL, code exchange, refresh and
 * access-token metadata (the only way to learn the hub id: the api-client's token model drops
 * `hub_id`). Every response is zod-parsed; errors become `CrmError` and never carry a token.
 */

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export type OAuthClient = {
  /** API host, e.g. https://api.hubapi.com or the sandbox base URL */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: FetchFn;
  /** per-call timeout; default 15 s */
  timeoutMs?: number;
};

export type TokenSet = { accessToken: string; refreshToken: string; expiresInSec: number };
export type AccessTokenInfo = { hubId: number; scopes: string[]; appId: number | null; expiresInSec: number | null };

/** The real authorize page lives on app.hubspot.com, not on the API host (https://developers.hubspot.com/docs/api/oauth-quickstart-guide). */
export const HUBSPOT_API_URL = 'https://api.hubapi.com';
export const HUBSPOT_AUTHORIZE_URL = 'https://app.hubspot.com/oauth/authorize';

/** Real HubSpot → app.hubspot.com; any other API host (the sandbox) serves /oauth/authorize itself. */
export function authorizeEndpoint(apiBaseUrl: string): string {
  const base = apiBaseUrl.replace(/\/+$/, '');
  return base === HUBSPOT_API_URL ? HUBSPOT_AUTHORIZE_URL : `${base}/oauth/authorize`;
}

export function authorizeUrl(opts: {
  apiBaseUrl: string;
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  optionalScopes?: readonly string[];
  state: string;
}): string {
  const u = new URL(authorizeEndpoint(opts.apiBaseUrl));
  u.searchParams.set('client_id', opts.clientId);
  u.searchParams.set('redirect_uri', opts.redirectUri);
  // space-separated (https://developers.hubspot.com/docs/api/oauth-quickstart-guide); URLSearchParams encodes spaces as '+', which HubSpot accepts
  // like %20 in a query string
  u.searchParams.set('scope', opts.scopes.join(' '));
  if (opts.optionalScopes !== undefined && opts.optionalScopes.length > 0) {
    u.searchParams.set('optional_scope', opts.optionalScopes.join(' '));
  }
  u.searchParams.set('state', opts.state);
  return u.toString();
}

const tokenResponse = z.object({
  access_token: z.string().min(1).max(4096),
  refresh_token: z.string().min(1).max(4096),
  expires_in: z.coerce.number().int().positive(),
  token_type: z.string().optional(),
});

const tokenInfoResponse = z.object({
  hub_id: z.coerce.number().int().positive(),
  scopes: z.array(z.string()).default([]),
  app_id: z.coerce.number().int().optional(),
  expires_in: z.coerce.number().int().optional(),
});

// Error layout is unconfirmed (https://developers.hubspot.com/docs/api/oauth-quickstart-guide): HubSpot has been seen with {status, message} and
// OAuth-standard {error, error_description}; read both, keep only the code.
const errorBody = z
  .object({
    status: z.string().optional(),
    error: z.string().optional(),
    category: z.string().optional(),
    message: z.string().optional(),
    error_description: z.string().optional(),
  })
  .partial();

/** Codes meaning "this grant is gone": the portal must reinstall. */
const DEAD_GRANT = new Set(['BAD_REFRESH_TOKEN', 'invalid_grant', 'EXPIRED_AUTH_CODE', 'BAD_AUTH_CODE', 'invalid_client', 'BAD_CLIENT_ID']);

async function call(client: OAuthClient, path: string, init: RequestInit, what: string): Promise<unknown> {
  const f = client.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(`${client.baseUrl.replace(/\/+$/, '')}${path}`, {
      ...init,
      signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
    });
  } catch (e) {
    throw new CrmError('unavailable', `HubSpot OAuth ${what} failed: ${(e as Error).name}`, { crm: 'hubspot' }, { cause: e });
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: treated like an empty body below
  }
  if (res.ok) {
    if (body === undefined) throw new CrmError('bad_response', `HubSpot OAuth ${what}: response is not JSON`, { crm: 'hubspot', status: res.status });
    return body;
  }
  const parsed = errorBody.safeParse(body);
  const code = parsed.success ? (parsed.data.status ?? parsed.data.error ?? parsed.data.category) : undefined;
  const details = { crm: 'hubspot' as const, status: res.status, ...(code === undefined ? {} : { code }) };
  const label = `HubSpot OAuth ${what} failed with HTTP ${res.status}${code === undefined ? '' : ` (${code})`}`;
  if (res.status === 429) {
    const ra = Number(res.headers.get('retry-after'));
    throw new CrmError('rate_limited', label, { ...details, ...(Number.isFinite(ra) && ra > 0 ? { retryAfterMs: ra * 1000 } : {}) });
  }
  if (res.status >= 500) throw new CrmError('unavailable', label, details);
  if (res.status === 401 || (code !== undefined && DEAD_GRANT.has(code))) throw new CrmError('auth', label, details);
  if (res.status === 403) throw new CrmError('forbidden', label, details);
  throw new CrmError('invalid_request', label, details);
}

function parseTokens(body: unknown, what: string): TokenSet {
  const r = tokenResponse.safeParse(body);
  if (!r.success) throw new CrmError('bad_response', `HubSpot OAuth ${what}: unexpected token response shape`, { crm: 'hubspot' });
  return { accessToken: r.data.access_token, refreshToken: r.data.refresh_token, expiresInSec: r.data.expires_in };
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  body: new URLSearchParams(fields).toString(),
});

/** `POST /oauth/v1/token` grant_type=authorization_code (https://developers.hubspot.com/docs/api/oauth-quickstart-guide). */
export async function exchangeCode(client: OAuthClient, opts: { code: string; redirectUri: string }): Promise<TokenSet> {
  const body = await call(
    client,
    '/oauth/v1/token',
    form({
      grant_type: 'authorization_code',
      code: opts.code,
      redirect_uri: opts.redirectUri,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    }),
    'code exchange',
  );
  return parseTokens(body, 'code exchange');
}

/** `POST /oauth/v1/token` grant_type=refresh_token; a dead grant surfaces as kind 'auth' with its code. */
export async function refreshTokens(client: OAuthClient, refreshToken: string): Promise<TokenSet> {
  const body = await call(
    client,
    '/oauth/v1/token',
    form({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    }),
    'token refresh',
  );
  return parseTokens(body, 'token refresh');
}

/** `GET /oauth/v1/access-tokens/{token}`: which hub (portal) and scopes a token belongs to. */
export async function accessTokenInfo(client: Omit<OAuthClient, 'clientId' | 'clientSecret'>, accessToken: string): Promise<AccessTokenInfo> {
  const body = await call(
    { ...client, clientId: '', clientSecret: '' },
    `/oauth/v1/access-tokens/${encodeURIComponent(accessToken)}`,
    { method: 'GET', headers: { accept: 'application/json' } },
    'token metadata',
  );
  const r = tokenInfoResponse.safeParse(body);
  if (!r.success) throw new CrmError('bad_response', 'HubSpot OAuth token metadata: unexpected response shape', { crm: 'hubspot' });
  return { hubId: r.data.hub_id, scopes: r.data.scopes, appId: r.data.app_id ?? null, expiresInSec: r.data.expires_in ?? null };
}

/**
 * `DELETE /oauth/v1/refresh-tokens/{token}`: uninstall from our side; the grant's refresh token
 * stops working (https://developers.hubspot.com/docs/api/oauth/tokens, "Delete a refresh token").
 */
export async function revokeRefreshToken(client: Omit<OAuthClient, 'clientId' | 'clientSecret'>, refreshToken: string): Promise<void> {
  const f = client.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(`${client.baseUrl.replace(/\/+$/, '')}/oauth/v1/refresh-tokens/${encodeURIComponent(refreshToken)}`, {
      method: 'DELETE',
      signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
    });
  } catch (e) {
    throw new CrmError('unavailable', `HubSpot OAuth revoke failed: ${(e as Error).name}`, { crm: 'hubspot' }, { cause: e });
  }
  await res.body?.cancel();
  // 204 on success; a token already gone is what we wanted
  if (res.ok || res.status === 404) return;
  throw new CrmError(res.status >= 500 ? 'unavailable' : 'invalid_request', `HubSpot OAuth revoke failed with HTTP ${res.status}`, { crm: 'hubspot', status: res.status });
}
