import { z } from 'zod';
import { CrmError } from '../../errors.ts';

/**
 * Salesforce OAuth 2.0 web-server flow over plain fetch (https://help.salesforce.com/apex/HTViewHelpDoc?id=xcloud.remoteaccess_oauth_web_server_flow_ca.htm): authorize URL, code
 * exchange, refresh, revoke. Every response is zod-parsed; errors become `CrmError` and never
 * carry a token. Salesforce token answers have no `expires_in` (the session timeout is an org
 * setting), so callers refresh when a call says INVALID_SESSION_ID (the connector's
 * `onUnauthorized`). Refresh tokens are not rotated by default: a refresh returns only a new
 * access token, and the caller keeps the refresh token it has.
 */
export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export type SalesforceOAuthClient = {
  /** https://login.salesforce.com, https://test.salesforce.com, a My Domain, or the emulator's base URL */
  loginUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: FetchFn;
  timeoutMs?: number;
};

export type SalesforceTokens = {
  accessToken: string;
  /** absent on refresh answers */
  refreshToken: string | undefined;
  /** where the org's API lives: every later call goes there, not to the login URL */
  instanceUrl: string;
  orgId: string;
  userId: string;
  /** 'salesforce:<orgId>' */
  portal: string;
};

/** The scopes Rapport needs: REST API access, and offline refresh. */
export const SALESFORCE_SCOPES = ['api', 'refresh_token'] as const;

/**
 * The authorize URL. With `codeChallenge` (PKCE, https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_pkce.htm):
 * `code_challenge` is BASE64URL(SHA256(verifier)) and the method is named (S256) so no server has
 * to guess it; an External Client App with "Require PKCE" refuses an authorize request without it.
 */
export function authorizeUrl(opts: { loginUrl: string; clientId: string; redirectUri: string; state: string; scopes?: readonly string[]; codeChallenge?: string | undefined }): string {
  const u = new URL(`${opts.loginUrl.replace(/\/+$/, '')}/services/oauth2/authorize`);
  u.searchParams.set('response_type', 'code');
  u.searchParams.set('client_id', opts.clientId);
  u.searchParams.set('redirect_uri', opts.redirectUri);
  u.searchParams.set('scope', (opts.scopes ?? SALESFORCE_SCOPES).join(' '));
  u.searchParams.set('state', opts.state);
  if (opts.codeChallenge !== undefined) {
    u.searchParams.set('code_challenge', opts.codeChallenge);
    u.searchParams.set('code_challenge_method', 'S256');
  }
  return u.toString();
}

const TokenResponse = z.object({
  access_token: z.string().min(1).max(4096),
  refresh_token: z.string().min(1).max(4096).optional(),
  instance_url: z.url(),
  // https://login.salesforce.com/id/<orgId>/<userId> (https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-using-identity-urls.html)
  id: z.url(),
});
const ErrorBody = z.object({ error: z.string().optional(), error_description: z.string().optional() });

function parseTokens(body: unknown, what: string): SalesforceTokens {
  const r = TokenResponse.safeParse(body);
  const m = r.success ? /\/id\/([0-9A-Za-z]{15,18})\/([0-9A-Za-z]{15,18})\/?$/.exec(r.data.id) : null;
  if (!r.success || m === null) throw new CrmError('bad_response', `Salesforce OAuth ${what}: unexpected token response shape`, { crm: 'salesforce' });
  return {
    accessToken: r.data.access_token,
    refreshToken: r.data.refresh_token,
    instanceUrl: r.data.instance_url.replace(/\/+$/, ''),
    orgId: m[1]!,
    userId: m[2]!,
    portal: `salesforce:${m[1]!}`,
  };
}

async function post(client: SalesforceOAuthClient, path: string, fields: Record<string, string>, what: string): Promise<unknown> {
  const f = client.fetch ?? fetch;
  let res: Response;
  try {
    res = await f(`${client.loginUrl.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(fields).toString(),
      signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
    });
  } catch (e) {
    throw new CrmError('unavailable', `Salesforce OAuth ${what} failed: ${(e as Error).name}`, { crm: 'salesforce' }, { cause: e });
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: handled below
  }
  if (res.ok) return body;
  const parsed = ErrorBody.safeParse(body);
  const code = parsed.success ? parsed.data.error : undefined;
  const details = { crm: 'salesforce' as const, status: res.status, ...(code === undefined ? {} : { code }) };
  const label = `Salesforce OAuth ${what} failed with HTTP ${res.status}${code === undefined ? '' : ` (${code})`}`;
  if (res.status >= 500) throw new CrmError('unavailable', label, details);
  // invalid_grant: expired/revoked refresh token or a used code → the org must reinstall
  if (res.status === 401 || code === 'invalid_grant' || code === 'invalid_client_id' || code === 'invalid_client') throw new CrmError('auth', label, details);
  throw new CrmError('invalid_request', label, details);
}

/** The code exchange, at the login host the authorize request went to; `codeVerifier` when the authorize URL carried a challenge. */
export async function exchangeCode(client: SalesforceOAuthClient, opts: { code: string; redirectUri: string; codeVerifier?: string | undefined }): Promise<SalesforceTokens> {
  const body = await post(
    client,
    '/services/oauth2/token',
    {
      grant_type: 'authorization_code',
      code: opts.code,
      redirect_uri: opts.redirectUri,
      client_id: client.clientId,
      client_secret: client.clientSecret,
      ...(opts.codeVerifier === undefined ? {} : { code_verifier: opts.codeVerifier }),
    },
    'code exchange',
  );
  return parseTokens(body, 'code exchange');
}

/**
 * A new access token. `client.loginUrl` should be the org's own My Domain (its stored instance URL),
 * as the refresh token flow documents (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm):
 * an org whose My Domain login policy blocks login.salesforce.com refuses refreshes there, and a
 * sandbox's grant is unknown to login.salesforce.com. The answer's `instance_url` may differ from
 * the stored one (My Domain renamed, org moved): the caller keeps the new one.
 */
export async function refreshAccessToken(client: SalesforceOAuthClient, refreshToken: string): Promise<SalesforceTokens> {
  const body = await post(
    client,
    '/services/oauth2/token',
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.clientId, client_secret: client.clientSecret },
    'token refresh',
  );
  return parseTokens(body, 'token refresh');
}

/** Uninstall from our side: revoking the refresh token ends every session of the grant. */
export async function revokeToken(client: SalesforceOAuthClient, token: string): Promise<void> {
  await post(client, '/services/oauth2/revoke', { token }, 'revoke');
}
