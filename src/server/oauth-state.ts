import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * The OAuth `state` parameter: `<payload>.<mac>`, both base64url. The payload carries a nonce
 * and an expiry; the MAC is HMAC-SHA256 under a key derived (HKDF) from the encryption key, so
 * a forged or stale state is refused. The nonce is also set in a cookie of the browser that
 * started the install, and used once (install-guard.ts). An optional context (`x`, at most 64
 * characters, e.g. which Salesforce login host the install started at) travels signed with it.
 *
 * PKCE (RFC 7636, https://datatracker.ietf.org/doc/html/rfc7636): the code verifier of an install
 * is derived from its nonce with the same key, so nothing is stored between /install and the
 * callback and no second server instance needs shared memory; only the server can compute it.
 */

export const STATE_TTL_MS = 10 * 60_000;

const payloadSchema = z.object({ n: z.string().min(8).max(64), e: z.number().int().positive(), x: z.string().max(64).optional() });

export function deriveStateKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), 'rapport/oauth-state/v1', 32));
}

export const newNonce = (): string => randomBytes(16).toString('base64url');

/** RFC 7636 §4.1: 43–128 unreserved characters; here base64url of an HMAC-SHA256 (43), secret to the server. */
export const pkceVerifier = (key: Buffer, nonce: string): string => createHmac('sha256', key).update(`pkce/v1:${nonce}`).digest('base64url');
/** RFC 7636 §4.2, method S256: BASE64URL(SHA256(verifier)). */
export const pkceChallenge = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');

export function createState(key: Buffer, now: number, ttlMs = STATE_TTL_MS, nonce = newNonce(), context?: string): string {
  const payload = Buffer.from(JSON.stringify({ n: nonce, e: now + ttlMs, ...(context === undefined ? {} : { x: context }) })).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

export type StateCheck = { ok: true; nonce: string; expiresAt: number; context: string | undefined } | { ok: false; reason: 'missing' | 'forged' | 'expired' };

export function checkState(key: Buffer, state: string | undefined, now: number): StateCheck {
  if (state === undefined || state === '') return { ok: false, reason: 'missing' };
  const [payload, mac, extra] = state.split('.');
  if (payload === undefined || mac === undefined || extra !== undefined || state.length > 512) return { ok: false, reason: 'forged' };
  // compare the encoded strings: base64 decoding is lenient (padding bits, stray characters)
  const expected = Buffer.from(createHmac('sha256', key).update(payload).digest('base64url'));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'forged' };
  }
  const p = payloadSchema.safeParse(decoded);
  if (!p.success) return { ok: false, reason: 'forged' };
  return p.data.e < now ? { ok: false, reason: 'expired' } : { ok: true, nonce: p.data.n, expiresAt: p.data.e, context: p.data.x };
}
