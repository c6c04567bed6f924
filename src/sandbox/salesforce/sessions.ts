import { createHash, randomBytes } from 'node:crypto';
import type { SandboxClock } from '../hubspot/clock.ts';

/**
 * OAuth sessions of the emulated org (one org per emulator). Access tokens look like real
 * Salesforce session ids (`<orgId>!<opaque>`); they expire after the session timeout (2 h by
 * default, Salesforce's default) or when a test expires them. Refresh tokens live until revoked.
 */
export type SalesforceOAuthApp = {
  clientId: string;
  clientSecret: string;
  /**
   * "Require Proof Key for Code Exchange (PKCE)" on the External Client App
   * (https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_pkce.htm): an authorize
   * request without `code_challenge` is refused. Whatever the setting, a code issued with a
   * challenge is only redeemed with the matching `code_verifier`.
   */
  requirePkce?: boolean;
};

/** why a code was not redeemed, with the OAuth error Salesforce answers (web server flow, code_challenge) */
export type RedeemFailure = { error: 'invalid_grant' | 'invalid_request'; description: string };

export type SalesforceSessions = {
  readonly orgId: string;
  readonly userId: string;
  /** a session without the OAuth dance (tests, the demo), like an admin's connected-app install */
  issue(): { accessToken: string; refreshToken: string };
  authenticate(bearer: string | undefined): 'ok' | 'invalid';
  /** every access token issued so far stops working (a refresh still works) */
  expireAccessTokens(): void;
  /** uninstall: access and refresh tokens all stop working */
  revokeAll(): void;
  revoke(token: string): void;
  refresh(refreshToken: string): { accessToken: string } | undefined;
  issueCode(redirectUri: string, codeChallenge?: string): string;
  redeemCode(code: string, redirectUri: string, codeVerifier?: string): { accessToken: string; refreshToken: string } | RedeemFailure;
};

export function createSalesforceSessions(opts: { clock: SandboxClock; orgId: string; userId: string; sessionTimeoutMs?: number }): SalesforceSessions {
  const ttl = opts.sessionTimeoutMs ?? 2 * 3_600_000;
  // each access token belongs to a grant (its refresh token): revoking the grant ends its sessions
  const access = new Map<string, { expiresAt: number; grant: string | undefined }>();
  const refreshTokens = new Set<string>();
  const codes = new Map<string, { redirectUri: string; expiresAt: number; challenge: string | undefined }>();
  const token = (bytes: number) => randomBytes(bytes).toString('base64url');
  const newAccess = (grant: string | undefined) => {
    const t = `${opts.orgId.slice(0, 15)}!${token(30)}`;
    access.set(t, { expiresAt: opts.clock.now() + ttl, grant });
    return t;
  };
  const pair = () => {
    const refreshToken = `5Aep861${token(40)}`;
    refreshTokens.add(refreshToken);
    return { accessToken: newAccess(refreshToken), refreshToken };
  };
  return {
    orgId: opts.orgId,
    userId: opts.userId,
    issue: pair,
    authenticate(bearer) {
      const s = bearer === undefined ? undefined : access.get(bearer);
      return s !== undefined && s.expiresAt > opts.clock.now() ? 'ok' : 'invalid';
    },
    expireAccessTokens() {
      for (const s of access.values()) s.expiresAt = Number.NEGATIVE_INFINITY;
    },
    revokeAll() {
      access.clear();
      refreshTokens.clear();
    },
    revoke(t) {
      access.delete(t);
      if (refreshTokens.delete(t)) for (const [k, s] of access) if (s.grant === t) access.delete(k);
    },
    refresh(rt) {
      // Salesforce does not rotate refresh tokens by default: only a new access token comes back
      return refreshTokens.has(rt) ? { accessToken: newAccess(rt) } : undefined;
    },
    issueCode(redirectUri, codeChallenge) {
      const code = `aPrx${token(24)}`;
      codes.set(code, { redirectUri, expiresAt: opts.clock.now() + 15 * 60_000, challenge: codeChallenge });
      return code;
    },
    redeemCode(code, redirectUri, codeVerifier) {
      const c = codes.get(code);
      // a code is used once, whatever the outcome
      codes.delete(code);
      if (c === undefined || c.redirectUri !== redirectUri || c.expiresAt <= opts.clock.now()) return { error: 'invalid_grant', description: 'invalid authorization code' };
      // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_understanding_web_server_oauth_flow.htm
      // (code_challenge): a challenge without a verifier fails invalid_grant, a verifier that does not match invalid_request
      if (c.challenge !== undefined) {
        if (codeVerifier === undefined || codeVerifier === '') return { error: 'invalid_grant', description: 'invalid code verifier' };
        if (createHash('sha256').update(codeVerifier).digest('base64url') !== c.challenge) return { error: 'invalid_request', description: 'invalid code verifier' };
      }
      return pair();
    },
  };
}
