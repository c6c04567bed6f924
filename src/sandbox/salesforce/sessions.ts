import { randomBytes } from 'node:crypto';
import type { SandboxClock } from '../hubspot/clock.ts';

/**
 * OAuth sessions of the emulated org (one org per emulator). Access tokens look like real
 * Salesforce session ids (`<orgId>!<opaque>`); they expire after the session timeout (2 h by
 * default, Salesforce's default) or when a test expires them. Refresh tokens live until revoked.
 */
export type SalesforceOAuthApp = { clientId: string; clientSecret: string };

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
  issueCode(redirectUri: string): string;
  redeemCode(code: string, redirectUri: string): { accessToken: string; refreshToken: string } | undefined;
};

export function createSalesforceSessions(opts: { clock: SandboxClock; orgId: string; userId: string; sessionTimeoutMs?: number }): SalesforceSessions {
  const ttl = opts.sessionTimeoutMs ?? 2 * 3_600_000;
  // each access token belongs to a grant (its refresh token): revoking the grant ends its sessions
  const access = new Map<string, { expiresAt: number; grant: string | undefined }>();
  const refreshTokens = new Set<string>();
  const codes = new Map<string, { redirectUri: string; expiresAt: number }>();
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
    issueCode(redirectUri) {
      const code = `aPrx${token(24)}`;
      codes.set(code, { redirectUri, expiresAt: opts.clock.now() + 15 * 60_000 });
      return code;
    },
    redeemCode(code, redirectUri) {
      const c = codes.get(code);
      codes.delete(code);
      if (c === undefined || c.redirectUri !== redirectUri || c.expiresAt <= opts.clock.now()) return undefined;
      return pair();
    },
  };
}
