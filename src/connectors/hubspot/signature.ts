/**
 * HubSpot request signatures: the ONE verifier for everything HubSpot calls (the webhook receiver,
 * notifications.ts, and the card API through card-auth.ts), as a hono middleware.
 * https://developers.hubspot.com/docs/api/webhooks/validating-requests (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation).
 *
 * Order, cheapest first, so that an unsigned or stale request never gets its upload read:
 * secret configured → signature and timestamp headers well-formed and fresh → body read once,
 * up to `bodyLimit` (hono's bodyLimit) → HMAC compared with timingSafeEqual. The raw body is
 * then handed to the route as the context variable `rawBody` (the signature covers the exact
 * bytes, so the route must not read the request again).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';

/** https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation step 1: reject timestamps older than 5 minutes. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;
/**
 * The largest body read: HubSpot's webhook batches are at most 100 events, and its proxied card
 * fetch sends at most 1 MB
 * (https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/fetching-data).
 */
export const SIGNED_BODY_LIMIT = 1024 * 1024;
/** A v3 signature is 44 base64 characters; anything much longer is not one (and is not hashed). */
const MAX_SIGNATURE_LENGTH = 200;

/**
 * https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation step 2: HubSpot signs the URI with exactly these escapes decoded (and no
 * others), so `%20` stays `%20` while `%3A` becomes `:`.
 */
const V3_DECODE: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$',
  '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};
export function decodeSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => V3_DECODE[m.toUpperCase()] ?? m);
}

const bytes = (s: string | Uint8Array): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s.buffer, s.byteOffset, s.byteLength));

/** v3: base64(HMAC-SHA256(secret, method + uri + body + timestamp)) (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation). */
export function signV3(o: { clientSecret: string; method: string; uri: string; body: string | Uint8Array; timestamp: string | number }): string {
  return createHmac('sha256', o.clientSecret)
    .update(bytes(o.method + decodeSignedUri(o.uri)))
    .update(bytes(o.body))
    .update(bytes(String(o.timestamp)))
    .digest('base64');
}

/** v1: hex(SHA-256(secret + body)) (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation). */
export function signV1(o: { clientSecret: string; body: string | Uint8Array }): string {
  return createHash('sha256').update(bytes(o.clientSecret)).update(bytes(o.body)).digest('hex');
}

/** v2: hex(SHA-256(secret + method + uri + body)) (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation; workflow actions, legacy cards). */
export function signV2(o: { clientSecret: string; method: string; uri: string; body: string | Uint8Array }): string {
  return createHash('sha256').update(bytes(o.clientSecret + o.method + o.uri)).update(bytes(o.body)).digest('hex');
}

function sameBytes(expected: Buffer, given: Buffer): boolean {
  // timingSafeEqual throws on different lengths; the length of a digest is no secret
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export type SignatureFailure = 'no_secret' | 'missing_signature' | 'legacy_signature' | 'bad_signature' | 'bad_timestamp' | 'stale_timestamp';
export type SignatureRejection = SignatureFailure | 'too_large';
export type SignatureVersion = 'v1' | 'v2' | 'v3';
export type SignatureVerdict = { ok: true; version: SignatureVersion } | { ok: false; reason: SignatureFailure };

type Headers = (name: string) => string | undefined;

/**
 * The checks that need no body. v3 wins when present (it is the only one with a timestamp and the
 * URL); v1/v2 (per `X-HubSpot-Signature-Version`) only with `allowLegacy`: they can be replayed
 * for as long as dedupe forgets, and HubSpot sends v3 with every app webhook and card fetch.
 */
export function checkSignatureHeaders(o: { header: Headers; clientSecret: string | undefined; now: number; allowLegacy: boolean }): SignatureVerdict {
  if (o.clientSecret === undefined || o.clientSecret === '') return { ok: false, reason: 'no_secret' };
  const v3 = o.header('x-hubspot-signature-v3');
  if (v3 !== undefined) {
    if (v3 === '' || v3.length > MAX_SIGNATURE_LENGTH) return { ok: false, reason: 'bad_signature' };
    const ts = o.header('x-hubspot-request-timestamp');
    if (ts === undefined || !/^\d{1,16}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' };
    // a clock ahead of ours by more than the window is as suspicious as a stale one
    if (Math.abs(o.now - Number(ts)) > SIGNATURE_WINDOW_MS) return { ok: false, reason: 'stale_timestamp' };
    return { ok: true, version: 'v3' };
  }
  const sig = o.header('x-hubspot-signature');
  if (sig === undefined) return { ok: false, reason: 'missing_signature' };
  if (!o.allowLegacy) return { ok: false, reason: 'legacy_signature' };
  const version = (o.header('x-hubspot-signature-version') ?? 'v1').toLowerCase();
  if ((version !== 'v1' && version !== 'v2') || !/^[0-9a-fA-F]{64}$/.test(sig)) return { ok: false, reason: 'bad_signature' };
  return { ok: true, version };
}

/** Checks a request's signature: the header checks above, then the digest over the raw body. */
export function verifyHubspotSignature(o: {
  header: Headers;
  method: string;
  /** the full public URL HubSpot called (protocol, host, path, query) */
  uri: string;
  body: Uint8Array;
  clientSecret: string | undefined;
  now: number;
  /** accept v1/v2 signatures when there is no v3 one (HUBSPOT_LEGACY_SIGNATURES) */
  allowLegacy?: boolean;
}): SignatureVerdict {
  const head = checkSignatureHeaders({ header: o.header, clientSecret: o.clientSecret, now: o.now, allowLegacy: o.allowLegacy === true });
  if (!head.ok || o.clientSecret === undefined) return head;
  const secret = o.clientSecret;
  let expected: string;
  let given: string;
  if (head.version === 'v3') {
    // compare the base64 text, not decoded bytes: Node's base64 decoder skips stray characters
    given = o.header('x-hubspot-signature-v3') ?? '';
    expected = signV3({ clientSecret: secret, method: o.method, uri: o.uri, body: o.body, timestamp: o.header('x-hubspot-request-timestamp') ?? '' });
  } else {
    given = (o.header('x-hubspot-signature') ?? '').toLowerCase();
    expected = head.version === 'v1' ? signV1({ clientSecret: secret, body: o.body }) : signV2({ clientSecret: secret, method: o.method, uri: o.uri, body: o.body });
  }
  return sameBytes(Buffer.from(expected), Buffer.from(given)) ? head : { ok: false, reason: 'bad_signature' };
}

/**
 * The URL HubSpot signed. Behind a TLS-terminating proxy the request URL is not it
 * (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation), and a proxy serving Rapport under /rapport strips the prefix: `publicUrl`
 * (RAPPORT_PUBLIC_URL, with its path prefix if any) gives the origin and prefix. Without it the
 * request URL is used, with the scheme from X-Forwarded-Proto when present.
 */
export function signedUri(c: Context, publicUrl: string | undefined): string {
  const seen = new URL(c.req.url);
  if (publicUrl !== undefined) {
    const base = new URL(publicUrl);
    return `${base.origin}${base.pathname.replace(/\/+$/, '')}${seen.pathname}${seen.search}`;
  }
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
  if (proto === 'https' || proto === 'http') seen.protocol = `${proto}:`;
  return seen.toString();
}

/** What a verified request carries to its route. */
export type SignedRequestEnv = {
  Variables: {
    /** the exact bytes the signature covers; read once, here */
    rawBody: Uint8Array;
    /** the verified signature: unique per signed request (the card API's replay key) */
    signature: string;
    signatureVersion: SignatureVersion;
  };
};

export const REJECTION_STATUS: Record<SignatureRejection, 401 | 413 | 503> = {
  // our misconfiguration, not the caller's fault: HubSpot retries a 5xx, so nothing is lost once it is set
  no_secret: 503,
  missing_signature: 401,
  legacy_signature: 401,
  bad_signature: 401,
  bad_timestamp: 401,
  stale_timestamp: 401,
  too_large: 413,
};

export type HubspotSignatureOptions = {
  clientSecret: string | undefined;
  /** RAPPORT_PUBLIC_URL (see signedUri) */
  publicUrl?: string | undefined;
  /** HUBSPOT_LEGACY_SIGNATURES: accept v1/v2 without v3 (default off) */
  allowLegacy?: boolean;
  now(): number;
  /** default SIGNED_BODY_LIMIT */
  bodyLimit?: number;
  /** renders a refusal in the route's own error format; the status is REJECTION_STATUS[reason] */
  onReject(c: Context, reason: SignatureRejection, status: 401 | 413 | 503): Response | Promise<Response>;
};

/** The middleware: verified requests reach the route with `rawBody`; every other one is refused. */
export function hubspotSignature(o: HubspotSignatureOptions): MiddlewareHandler<SignedRequestEnv> {
  const limit = o.bodyLimit ?? SIGNED_BODY_LIMIT;
  const reject = (c: Context, reason: SignatureRejection, bodyUnread: boolean) => {
    // refused before the upload was read: close the connection, nobody waits for the rest of it
    if (bodyUnread) c.header('connection', 'close');
    return o.onReject(c, reason, REJECTION_STATUS[reason]);
  };
  const readBody = honoBodyLimit({ maxSize: limit, onError: (c) => reject(c, 'too_large', true) });
  return async (c, next) => {
    const header: Headers = (n) => c.req.header(n);
    const head = checkSignatureHeaders({ header, clientSecret: o.clientSecret, now: o.now(), allowLegacy: o.allowLegacy === true });
    if (!head.ok) return reject(c, head.reason, true);
    let refusal: Response | undefined;
    const verified = async () => {
      // read once, under the limit: the signature covers these exact bytes
      const body = new Uint8Array(await c.req.arrayBuffer());
      const verdict = verifyHubspotSignature({ header, method: c.req.method, uri: signedUri(c, o.publicUrl), body, clientSecret: o.clientSecret, now: o.now(), allowLegacy: o.allowLegacy === true });
      if (!verdict.ok) {
        refusal = await reject(c, verdict.reason, false);
        return;
      }
      c.set('rawBody', body);
      c.set('signature', (verdict.version === 'v3' ? c.req.header('x-hubspot-signature-v3') : c.req.header('x-hubspot-signature')) ?? '');
      c.set('signatureVersion', verdict.version);
      await next();
    };
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      // bodyLimit's own rule for a declared length, decided here from the headers: bodyLimit
      // first reads `c.req.raw.body`, which makes @hono/node-server build a web Request and a
      // web stream for every delivery (~6 % of the web process's busy time in a CPU profile at
      // 500 deliveries/s); arrayBuffer() on the untouched request reads the socket directly
      if (Number.parseInt(declared, 10) > limit) return reject(c, 'too_large', true);
      await verified();
      return refusal;
    }
    // chunked (no declared length): bodyLimit counts the bytes as they come and answers an
    // oversized body itself (onError); it calls this only under the limit
    const over = await readBody(c, verified);
    return over ?? refusal;
  };
}
