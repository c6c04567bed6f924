import { Hono } from 'hono';
import { z } from 'zod';
import { hubspotError, validationError } from './errors.ts';
import { KNOWN_SCOPES, type IssuedTokens, type SandboxPortalsImpl, type TokenErrorCode } from './portals.ts';
import { CORRELATION_HEADER, jsonResponse, newCorrelationId, noContent } from './responses.ts';

/**
 * HubSpot's OAuth endpoints (https://developers.hubspot.com/docs/api/oauth-quickstart-guide), served by the sandbox:
 *
 * - `GET /oauth/authorize` and `GET /oauth/{hubId}/authorize`: the consent page. The sandbox acts
 *   as an admin who is already logged in and always clicks "Connect app": it validates `client_id`,
 *   `redirect_uri` and `scope` and redirects straight back with `code` and `state`. Which account
 *   installs the app (the "choose an account" step of the real page):
 *     1. the `{hubId}` path segment (HubSpot's account-specific authorize URL), else
 *     2. the sandbox-only query parameter `hub_id`, else
 *     3. the first account this app was never installed in; when every account has it, a NEW
 *        account is created. So N installs without a hub id give N different portals.
 *   Sandbox-only `deny=1` simulates the admin declining: redirect with `error=access_denied`.
 *   Problems HubSpot shows on its own page (unknown client, bad redirect URI, bad scopes) answer 400
 *   JSON here instead, since there is nobody to read a page.
 * - `POST /oauth/v1/token` (form-encoded; `authorization_code` and `refresh_token` grants). Also at
 *   `/oauth/v3/token`, which takes the same form fields and answers the same body (https://developers.hubspot.com/docs/api/oauth-quickstart-guide).
 * - `GET /oauth/v1/access-tokens/{token}`, `GET|DELETE /oauth/v1/refresh-tokens/{token}`.
 *
 * None of these take a bearer token: the sandbox's auth middleware must not guard `/oauth/*`.
 */
/**
 * What token metadata answers for a private-app token (`pat-…`). HubSpot's reply is reported, not
 * documented: 400 `{"status":"error","message":"The access token must have the correct format",…}`
 * (https://github.com/HubSpot/hubspot-api-nodejs/issues/530, a `pat-eu1-…` token; HubSpot's answer
 * there: the endpoint is for OAuth tokens only). `not-found` answers 404 "Token not found" as for an
 * unknown OAuth token, so a client can be checked against both.
 */
export type PrivateAppTokenMetadata = 'bad-format' | 'not-found';

export function createOAuthRoutes(deps: { portals: SandboxPortalsImpl; privateAppTokenMetadata?: PrivateAppTokenMetadata }): Hono {
  const { portals } = deps;
  const patMode = deps.privateAppTokenMetadata ?? 'bad-format';
  const app = new Hono();

  const authorize = (pathHubId: string | undefined) => (c: { req: { url: string } }) => {
    const q = new URL(c.req.url).searchParams;
    const parsed = authorizeQuery.safeParse(Object.fromEntries(q));
    if (!parsed.success) return validationError(`Invalid authorize request: ${z.prettifyError(parsed.error)}`);
    const { client_id, redirect_uri, scope, optional_scope, state, hub_id, deny } = parsed.data;
    const oauthApp = portals.app(client_id);
    if (oauthApp === undefined) return validationError(`Unknown client_id "${client_id}": no app with this client id is registered with the sandbox.`);
    const redirect = checkRedirectUri(redirect_uri);
    if (typeof redirect === 'string') return validationError(redirect);
    if (oauthApp.redirectUris !== undefined && !oauthApp.redirectUris.includes(redirect_uri)) {
      return validationError(`redirect_uri "${redirect_uri}" is not one of the app's redirect URLs.`);
    }

    const requested = splitScopes(scope);
    const optional = splitScopes(optional_scope ?? '');
    const unknown = [...requested, ...optional].filter((s) => !KNOWN_SCOPES.has(s));
    if (requested.length === 0) return validationError('The authorize URL needs a space-separated `scope` parameter.');
    if (unknown.length > 0) return validationError(`Unknown scopes: ${unknown.join(', ')}`);
    const missing = (oauthApp.requiredScopes ?? []).filter((s) => !requested.includes(s));
    if (missing.length > 0) {
      // https://developers.hubspot.com/scopes: installation fails when `scope` doesn't match the app's required scopes.
      return validationError(`Insufficient scopes were provided. The app requires: ${missing.join(', ')}`);
    }

    let hubId: number;
    const explicit = pathHubId ?? hub_id;
    if (explicit !== undefined) {
      hubId = Number(explicit);
      if (!Number.isSafeInteger(hubId) || !portals.has(hubId)) return validationError(`No sandbox account with hub id "${explicit}".`);
    } else {
      hubId = portals.nextPortalFor(oauthApp.appId);
    }

    if (deny === '1' || deny === 'true') {
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('error_description', 'The user declined to install the app.');
    } else {
      // Every token carries `oauth` (https://developers.hubspot.com/docs/api/oauth-quickstart-guide: always required for OAuth apps); optional scopes are granted.
      const granted = [...new Set(['oauth', ...requested, ...optional])];
      redirect.searchParams.set('code', portals.issueCode({ clientId: client_id, redirectUri: redirect_uri, hubId, scopes: granted }));
    }
    if (state !== undefined) redirect.searchParams.set('state', state);
    return new Response(null, { status: 302, headers: { Location: redirect.toString() } });
  };

  app.get('/oauth/authorize', (c) => authorize(undefined)(c));
  app.get('/oauth/:hubId{[0-9]+}/authorize', (c) => authorize(c.req.param('hubId'))(c));

  const token = async (c: { req: { header(name: string): string | undefined; text(): Promise<string> } }): Promise<Response> => {
    const contentType = c.req.header('content-type') ?? '';
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return validationError('The token endpoint takes an application/x-www-form-urlencoded body (https://developers.hubspot.com/docs/api/oauth-quickstart-guide).');
    }
    const form = tokenForm.safeParse(Object.fromEntries(new URLSearchParams(await c.req.text())));
    if (!form.success) return validationError(`Invalid token request: ${z.prettifyError(form.error)}`);
    const f = form.data;
    if (f.grant_type !== 'authorization_code' && f.grant_type !== 'refresh_token') return tokenError('BAD_GRANT_TYPE');
    const oauthApp = f.client_id === undefined ? undefined : portals.app(f.client_id);
    if (oauthApp === undefined) return tokenError('BAD_CLIENT_ID');
    if (f.client_secret !== oauthApp.clientSecret) return tokenError('BAD_CLIENT_SECRET');

    const result =
      f.grant_type === 'authorization_code'
        ? portals.redeemCode({ code: f.code ?? '', clientId: oauthApp.clientId, redirectUri: f.redirect_uri ?? '' })
        : portals.refresh({ refreshToken: f.refresh_token ?? '', clientId: oauthApp.clientId });
    if ('error' in result) return tokenError(result.error);
    return jsonResponse(200, tokenBody(result));
  };
  app.post('/oauth/v1/token', (c) => token(c));
  app.post('/oauth/v3/token', (c) => token(c));

  app.get('/oauth/v1/access-tokens/:token', (c) => {
    const raw = c.req.param('token');
    // judged by its format, whether or not the token exists (see PrivateAppTokenMetadata)
    if (raw.startsWith('pat-') && patMode === 'bad-format') return tokenBadFormat();
    const info = portals.accessTokenInfo(raw);
    // Unknown, revoked or expired: HubSpot's exact reply is UNCONFIRMED (https://developers.hubspot.com/docs/api/oauth-quickstart-guide); 404 with its error shape.
    if (info === undefined || info.expiresIn === 0) return tokenNotFound();
    return jsonResponse(200, {
      token: info.token,
      user: info.user,
      hub_domain: info.hubDomain,
      scopes: info.scopes,
      signed_access_token: {
        expiresAt: info.expiresAt,
        scopes: info.scopes.join(' '),
        hubId: info.hubId,
        userId: info.userId,
        appId: info.appId,
        hublet: 'na1',
        isUserLevel: false,
        isPrivateDistribution: false,
      },
      hub_id: info.hubId,
      app_id: info.appId,
      expires_in: info.expiresIn,
      user_id: info.userId,
      token_type: 'access',
      is_private_distribution: false,
    });
  });

  app.get('/oauth/v1/refresh-tokens/:token', (c) => {
    const info = portals.refreshTokenInfo(c.req.param('token'));
    if (info === undefined) return tokenNotFound();
    return jsonResponse(200, {
      token: info.token,
      user: info.user,
      hub_domain: info.hubDomain,
      scopes: info.scopes,
      hub_id: info.hubId,
      client_id: info.clientId,
      user_id: info.userId,
      token_type: 'refresh',
    });
  });

  app.delete('/oauth/v1/refresh-tokens/:token', (c) => (portals.deleteRefreshToken(c.req.param('token')) ? noContent() : tokenNotFound()));

  return app;
}

const authorizeQuery = z.object({
  client_id: z.string().min(1),
  redirect_uri: z.string().min(1),
  scope: z.string(),
  optional_scope: z.string().optional(),
  state: z.string().optional(),
  hub_id: z.string().optional(),
  deny: z.string().optional(),
});

const tokenForm = z.object({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  code: z.string().optional(),
  redirect_uri: z.string().optional(),
  refresh_token: z.string().optional(),
});

/** The client builds the scope list with spaces (`%20`); `+` arrives as a space from URLSearchParams too. */
const splitScopes = (s: string): string[] => s.split(/[\s,]+/).filter((x) => x !== '');

/**
 * https://developers.hubspot.com/docs/api/oauth-quickstart-guide: https in production, http allowed for localhost. The sandbox also allows loopback
 * IPs, since tests listen on 127.0.0.1.
 */
function checkRedirectUri(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `redirect_uri "${raw}" is not an absolute URL.`;
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url;
  return `redirect_uri must use https (http is allowed only for localhost), got "${raw}".`;
}

/**
 * Token-endpoint failures: HTTP 400 with HubSpot's own `status`/`message` plus the RFC 6749
 * `error`/`error_description` HubSpot added in 2026 (both kept for compatibility; https://developers.hubspot.com/docs/api/oauth-quickstart-guide,
 * live body `{"error":"invalid_grant","error_description":"refresh token is invalid, expired or
 * revoked","status":"BAD_REFRESH_TOKEN","message":"…"}`). Messages other than BAD_REFRESH_TOKEN's
 * are community-reported and UNCONFIRMED.
 */
const TOKEN_ERRORS: Record<TokenErrorCode, { error: string; message: string }> = {
  BAD_GRANT_TYPE: { error: 'unsupported_grant_type', message: 'missing or unknown grant type' },
  BAD_CLIENT_ID: { error: 'invalid_client', message: 'missing or unknown client id' },
  BAD_CLIENT_SECRET: { error: 'invalid_client', message: 'missing or invalid client secret' },
  BAD_AUTH_CODE: { error: 'invalid_grant', message: 'missing or unknown auth code' },
  EXPIRED_AUTH_CODE: { error: 'invalid_grant', message: 'auth code is expired' },
  BAD_REDIRECT_URI: { error: 'invalid_grant', message: 'redirect_uri does not match the one used to obtain the auth code' },
  BAD_REFRESH_TOKEN: { error: 'invalid_grant', message: 'refresh token is invalid, expired or revoked' },
};

function tokenError(code: TokenErrorCode): Response {
  const { error, message } = TOKEN_ERRORS[code];
  const correlationId = newCorrelationId();
  return jsonResponse(400, { status: code, message, error, error_description: message, correlationId }, { [CORRELATION_HEADER]: correlationId });
}

function tokenBadFormat(): Response {
  const correlationId = newCorrelationId();
  return jsonResponse(400, { status: 'error', message: 'The access token must have the correct format', correlationId }, { [CORRELATION_HEADER]: correlationId });
}

const tokenNotFound = (): Response => hubspotError(404, { message: 'Token not found', category: 'OBJECT_NOT_FOUND' });

/**
 * https://developers.hubspot.com/docs/api/oauth-quickstart-guide: `{token_type, refresh_token, access_token, expires_in}`; current HubSpot also
 * sends `hub_id`, `scopes` and `token_use` (the api-client keeps only the first four + id_token).
 */
const tokenBody = (t: IssuedTokens): Record<string, unknown> => ({
  token_type: 'bearer',
  refresh_token: t.refreshToken,
  access_token: t.accessToken,
  expires_in: t.expiresIn,
  hub_id: t.hubId,
  scopes: t.scopes,
  token_use: 'access_token',
});
