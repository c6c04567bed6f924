/**
 * The card API (mounted at /api/cards by createApp): what the HubSpot card reads through
 * `hubspot.fetch`. Every request must carry HubSpot's v3 signature (hubspot.md §5.3 → §3.1);
 * the portal comes from the signed URL and the contact must belong to it; answers come from the
 * local cache only (HubSpot gives the proxied call 15 s and 1 MB).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { ContactScores, Reason, ScoreKey } from '../store/scores.ts';
import { DEFAULT_BANDS } from '../scoring/bands.ts';
import {
  CARD_SCORE_KEYS,
  cardResponseSchema,
  contactIdSchema,
  MAX_CARD_REASONS,
  type CardError,
  type CardReason,
  type CardResponse,
} from './card-contract.ts';

export type CardRoutesDeps = {
  store: Store;
  /** the HubSpot app's client secret: the key of the v3 signature; unset → every request is refused (503) */
  clientSecret: string | undefined;
  now: () => number;
  /** recompute one contact's scores now (the daemon's); resolves when they are saved */
  rescore: (portal: string, contactId: string) => Promise<void>;
  logger: Logger;
  /**
   * The public origin HubSpot calls (RAPPORT_PUBLIC_URL). The signature covers the URL as HubSpot
   * saw it, which a TLS-terminating proxy changes (hubspot.md §6.12). Without it, the request URL
   * is used, with the scheme from X-Forwarded-Proto when present.
   */
  publicUrl?: string | undefined;
};

/** hubspot.md §3.1: reject signatures older than 5 minutes. */
export const SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const CHANGE_WINDOW_MS = 30 * DAY_MS;

/** hubspot.md §3.1 step 2: only these escapes are decoded before signing. */
const DECODED_ESCAPES: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

export function normalizeSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED_ESCAPES[m.toUpperCase()] ?? m);
}

/** base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)) — hubspot.md §3.1 step 3-4. */
export function signV3(clientSecret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', clientSecret)
    .update(`${method}${normalizeSignedUri(uri)}${body}${timestamp}`, 'utf8')
    .digest('base64');
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' };

/** Verifies a v3 signature in constant time; the timestamp must be within 5 minutes of `now`. */
export function verifyV3(input: {
  clientSecret: string;
  method: string;
  uri: string;
  body: string;
  signature: string | undefined;
  timestamp: string | undefined;
  now: number;
}): SignatureCheck {
  const { signature, timestamp } = input;
  if (signature === undefined || timestamp === undefined || signature === '' || !/^\d{1,16}$/.test(timestamp)) {
    return { ok: false, reason: 'missing' };
  }
  if (Math.abs(input.now - Number(timestamp)) > SIGNATURE_MAX_AGE_MS) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signV3(input.clientSecret, input.method, input.uri, input.body, timestamp), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  // timingSafeEqual needs equal lengths; comparing the expected value with itself keeps the timing flat
  const same = given.length === expected.length ? timingSafeEqual(given, expected) : !timingSafeEqual(expected, expected);
  return same ? { ok: true } : { ok: false, reason: 'mismatch' };
}

/** Top reasons across the four scores, strongest first (by absolute impact). */
function topReasons(s: ContactScores): CardReason[] {
  const all: CardReason[] = [];
  for (const key of CARD_SCORE_KEYS) {
    for (const r of s[key].reasons as readonly Reason[]) {
      const text = r.text.trim().slice(0, 300);
      // notes without points ("no feedback yet: account average") are not reasons on the card
      if (text !== '' && Number.isFinite(r.impact) && r.impact !== 0) all.push({ score: key, text, impact: r.impact });
    }
  }
  return all.sort((a, b) => Math.abs(b.impact) - Math.abs(a.impact)).slice(0, MAX_CARD_REASONS);
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * The card's payload for one contact of one portal, from the cache only; `undefined` when the
 * contact is not a (live) contact of that portal, so callers answer 404 without telling why.
 */
export function buildCardResponse(store: Store, portal: string, contactId: string, now: number): CardResponse | undefined {
  const record = store.records.get(portal, 'contacts', contactId);
  if (record === undefined || record.deleted) return undefined;
  if (store.portals.get(portal)?.status === 'disconnected') return { state: 'disconnected', contactId };
  const s = store.scores.get(portal, contactId);
  if (s === undefined) return { state: 'not_scored', contactId };

  // Baseline for the 30-day change: the last history point at or before the window start; if the
  // contact was first scored inside the window, its first point. History has one row per change.
  const history = store.scores.history(portal, contactId, 0);
  const cutoff = now - CHANGE_WINDOW_MS;
  let baseline = history.filter((h) => h.scoredAt <= cutoff).at(-1);
  if (baseline === undefined) {
    const first = history[0];
    if (first !== undefined && first.scoredAt < s.scoredAt) baseline = first;
  }
  const change = (key: ScoreKey): number | null => (baseline === undefined ? null : s[key].value - baseline[key]);

  const scores = Object.fromEntries(
    CARD_SCORE_KEYS.map((key) => [
      key,
      {
        value: clamp(s[key].value, 0, 100),
        band: s[key].band,
        confidence: clamp(s[key].confidence, 0, 1),
        change30d: change(key),
        cutoffs: DEFAULT_BANDS[key],
      },
    ]),
  );
  // Data problems lower confidence and are said once, on the confidence line (issue 17).
  const issues = s.extra['dataIssues'];
  const dataIssues = Array.isArray(issues) ? issues.filter((x): x is string => typeof x === 'string' && x !== '').slice(0, 10).map((x) => x.slice(0, 200)) : [];
  const channel = s.extra['likelyChannel'];
  // Parse our own output: a broken store row becomes a logged 500, never an unchecked payload.
  return cardResponseSchema.parse({
    state: 'scored',
    contactId,
    scores,
    band: s.health,
    confidence: clamp(s.confidence, 0, 1),
    reasons: topReasons(s),
    scoredAt: new Date(s.scoredAt).toISOString(),
    modelVersion: s.modelVersion,
    dataIssues,
    likelyChannel: channel === 'emails' || channel === 'calls' || channel === 'meetings' || channel === 'tickets' ? channel : null,
  });
}

const errorBody = (code: CardError['error']['code'], message: string): CardError => ({ error: { code, message } });

/** The URL HubSpot signed (see CardRoutesDeps.publicUrl). */
function signedUri(c: Context, publicUrl: string | undefined): string {
  const seen = new URL(c.req.url);
  if (publicUrl !== undefined) return `${new URL(publicUrl).origin}${seen.pathname}${seen.search}`;
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
  if (proto === 'https' || proto === 'http') seen.protocol = `${proto}:`;
  return seen.toString();
}

export function createCardRoutes(deps: CardRoutesDeps): Hono {
  const { store, logger } = deps;
  const app = new Hono();

  /**
   * Verifies the signature and resolves the portal and contact. Returns a Response to send when
   * the request must be refused. 401 for anything about the signature, 404 for any contact the
   * calling portal does not own: the body never says which records exist elsewhere.
   */
  async function authorize(c: Context): Promise<Response | { portal: string; contactId: string }> {
    if (deps.clientSecret === undefined || deps.clientSecret === '') {
      return c.json(errorBody('internal', 'The card API needs HUBSPOT_CLIENT_SECRET to verify HubSpot signatures.'), 503);
    }
    const body = await c.req.text();
    const check = verifyV3({
      clientSecret: deps.clientSecret,
      method: c.req.method,
      uri: signedUri(c, deps.publicUrl),
      body,
      signature: c.req.header('x-hubspot-signature-v3'),
      timestamp: c.req.header('x-hubspot-request-timestamp'),
      now: deps.now(),
    });
    if (!check.ok) {
      logger.warn({ reason: check.reason, method: c.req.method }, 'card request refused: bad signature');
      return c.json(errorBody('unauthorized', 'Invalid or expired HubSpot signature.'), 401);
    }
    // The card sends portalId itself and HubSpot may append it too (hubspot.md §5.3): all must agree.
    const portalIds = c.req.queries('portalId') ?? [];
    const portalId = portalIds[0];
    if (portalId === undefined || !/^\d{1,20}$/.test(portalId) || portalIds.some((p) => p !== portalId)) {
      return c.json(errorBody('bad_request', 'portalId query parameter is required (one numeric value).'), 400);
    }
    const id = contactIdSchema.safeParse(c.req.param('id'));
    if (!id.success) return c.json(errorBody('not_found', 'Not found.'), 404);
    return { portal: `hubspot:${portalId}`, contactId: id.data };
  }

  function reply(c: Context, portal: string, contactId: string): Response {
    const payload = buildCardResponse(store, portal, contactId, deps.now());
    if (payload === undefined) return c.json(errorBody('not_found', 'Not found.'), 404);
    return c.json(payload, 200);
  }

  app.use('*', async (c, next) => {
    await next();
    // Per-user, per-contact data: never cached by HubSpot's proxy or anyone else.
    c.header('Cache-Control', 'no-store');
  });

  app.get('/contacts/:id', async (c) => {
    const auth = await authorize(c);
    if (auth instanceof Response) return auth;
    return reply(c, auth.portal, auth.contactId);
  });

  app.post('/contacts/:id/rescore', async (c) => {
    const auth = await authorize(c);
    if (auth instanceof Response) return auth;
    const { portal, contactId } = auth;
    const before = buildCardResponse(store, portal, contactId, deps.now());
    if (before === undefined) return c.json(errorBody('not_found', 'Not found.'), 404);
    if (before.state === 'disconnected') return c.json(before, 200);
    try {
      await deps.rescore(portal, contactId);
    } catch (e) {
      logger.error({ portal, contactId, err: e instanceof Error ? e.message : String(e) }, 'card rescore failed');
      return c.json(errorBody('rescore_failed', 'Rescoring failed; the last scores are still valid.'), 503);
    }
    logger.info({ portal, contactId }, 'card rescore done');
    return reply(c, portal, contactId);
  });

  app.notFound((c) => c.json(errorBody('not_found', 'Not found.'), 404));
  app.onError((e, c) => {
    logger.error({ err: e.message, path: new URL(c.req.url).pathname }, 'card API error');
    return c.json(errorBody('internal', 'Internal error.'), 500);
  });
  return app;
}
