import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { checkState, createState, newNonce, pkceVerifier, STATE_TTL_MS } from './oauth-state.ts';
import { createRateLimiter } from './rate-limit.ts';

/**
 * What makes an OAuth `state` good for one install by one browser (RFC 6749 §10.12 and
 * https://datatracker.ietf.org/doc/html/rfc9700#section-4.7: bind state to the user agent):
 * - `/install` puts a random nonce in the signed state AND in an HttpOnly, SameSite=Lax cookie
 *   scoped to the install routes (Lax: the callback is a top-level redirect from the CRM's
 *   domain, which Strict would strip: https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Set-Cookie#samesitesamesite-value);
 * - the callback needs both to match, uses a state once, and clears the cookie;
 * - callbacks are rate-limited (each good one costs a code exchange with the client secret).
 * Used states are remembered in memory for their 10-minute life.
 */

/** Shown when the CRM's callback reports an error: never the query's own text (phishing on our domain). */
export const DECLINED_MESSAGE = 'The install was cancelled or refused, so Rapport is not connected. To try again, start from the Rapport install link; the server log has the reason.';

export const CALLBACK_LIMIT = { limit: 20, windowMs: 60_000 };

export type CallbackCheck = { ok: true; codeVerifier: string; context: string | undefined } | { ok: false; reason: 'rate_limited' | 'missing' | 'forged' | 'expired' | 'no_cookie' | 'cookie_mismatch' | 'reused' };

export function createInstallGuard(o: {
  stateKey: Buffer;
  now: () => number;
  /** the provider name: the cookie is rapport_oauth_<crm> */
  crm: string;
  /** RAPPORT_PUBLIC_URL: its path prefix scopes the cookie, its scheme decides `Secure` */
  publicUrl: string;
}) {
  const base = new URL(o.publicUrl);
  const cookieName = `rapport_oauth_${o.crm}`;
  const cookie = {
    path: `${base.pathname.replace(/\/+$/, '')}/oauth/${o.crm}`,
    httpOnly: true,
    sameSite: 'Lax' as const,
    secure: base.protocol === 'https:',
  };
  const used = new Map<string, number>();
  const limiter = createRateLimiter({ ...CALLBACK_LIMIT, now: o.now });

  return {
    /** a fresh state (carrying `context`) and its PKCE code verifier for the authorize URL; sets the browser's nonce cookie */
    begin(c: Context, context?: string): { state: string; codeVerifier: string } {
      const nonce = newNonce();
      setCookie(c, cookieName, nonce, { ...cookie, maxAge: Math.floor(STATE_TTL_MS / 1000) });
      return { state: createState(o.stateKey, o.now(), STATE_TTL_MS, nonce, context), codeVerifier: pkceVerifier(o.stateKey, nonce) };
    },
    /** checks the callback's state against the cookie and uses it up; always clears the cookie */
    finish(c: Context, state: string | undefined): CallbackCheck {
      const now = o.now();
      if (!limiter.take('callback')) return { ok: false, reason: 'rate_limited' };
      const fromCookie = getCookie(c, cookieName);
      deleteCookie(c, cookieName, cookie);
      const checked = checkState(o.stateKey, state, now);
      if (!checked.ok) return checked;
      if (fromCookie === undefined || fromCookie === '') return { ok: false, reason: 'no_cookie' };
      const a = Buffer.from(fromCookie);
      const b = Buffer.from(checked.nonce);
      if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'cookie_mismatch' };
      for (const [n, until] of used) if (until < now) used.delete(n);
      if (used.has(checked.nonce)) return { ok: false, reason: 'reused' };
      used.set(checked.nonce, checked.expiresAt);
      return { ok: true, codeVerifier: pkceVerifier(o.stateKey, checked.nonce), context: checked.context };
    },
  };
}
