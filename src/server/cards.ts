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
import { readBodyLimited, WEBHOOK_BODY_LIMIT } from '../webhooks/hubspot.ts';
import { createReplayGuard, type ReplayGuard } from './replay-guard.ts';
import { createRescores, type Rescores } from './rescores.ts';
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
   * The public URL HubSpot calls (RAPPORT_PUBLIC_URL), with its path prefix if any: the signature
   * covers the URL as HubSpot saw it, which a TLS-terminating proxy changes (hubspot.md §6.12),
   * and a proxy serving Rapport under /rapport strips the prefix, as for webhooks. Without it,
   * the request URL is used, with the scheme from X-Forwarded-Proto when present.
   */
  publicUrl?: string | undefined;
  /** "Rescore now" with its per-contact limit, shared with the preview (default: one of its own over `rescore`) */
  rescores?: Rescores;
  /** signatures already used for a POST (default: one of its own) */
  replay?: ReplayGuard;
};

/**
 * The largest body read, as for webhooks (HubSpot's proxied fetch sends at most 1 MB:
 * https://developers.hubspot.com/docs/apps/developer-platform/add-features/ui-extensibility/fetching-data).
 */
export const CARD_BODY_LIMIT = WEBHOOK_BODY_LIMIT;

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
export function signV3(clientSecret: string, method: string, uri: string, body: string | Buffer, timestamp: string): string {
  return createHmac('sha256', clientSecret)
    .update(`${method}${normalizeSignedUri(uri)}`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .update(timestamp, 'utf8')
    .digest('base64');
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' };

/** The checks that need no body: both headers present, the timestamp well-formed and fresh. */
export function checkSignatureHeaders(signature: string | undefined, timestamp: string | undefined, now: number): SignatureCheck {
  if (signature === undefined || timestamp === undefined || signature === '' || signature.length > 200 || !/^\d{1,16}$/.test(timestamp)) {
    return { ok: false, reason: 'missing' };
  }
  if (Math.abs(now - Number(timestamp)) > SIGNATURE_MAX_AGE_MS) return { ok: false, reason: 'stale' };
  return { ok: true };
}

/** Verifies a v3 signature in constant time; the timestamp must be within 5 minutes of `now`. */
export function verifyV3(input: {
  clientSecret: string;
  method: string;
  uri: string;
  body: string | Buffer;
  signature: string | undefined;
  timestamp: string | undefined;
  now: number;
}): SignatureCheck {
  const { signature, timestamp } = input;
  const headers = checkSignatureHeaders(signature, timestamp, input.now);
  if (!headers.ok || signature === undefined || timestamp === undefined) return headers;
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
export async function buildCardResponse(
  store: Pick<Store, 'records' | 'portals' | 'scores'>,
  portal: string,
  contactId: string,
  now: number,
): Promise<CardResponse | undefined> {
  const record = await store.records.get(portal, 'contacts', contactId);
  if (record === undefined || record.deleted) return undefined;
  if ((await store.portals.get(portal))?.status === 'disconnected') return { state: 'disconnected', contactId };
  const s = await store.scores.get(portal, contactId);
  if (s === undefined) return { state: 'not_scored', contactId };

  // Baseline for the 30-day change: the last history point at or before the window start; if the
  // contact was first scored inside the window, its first point. History has one row per change.
  const history = await store.scores.history(portal, contactId, 0);
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

/** Adds a pending rescore's mark to a cache payload (never to a disconnected one). */
export function withRescoreMark(payload: CardResponse | undefined, mark: 'running' | 'failed' | undefined): CardResponse | undefined {
  if (payload === undefined || mark === undefined || payload.state === 'disconnected') return payload;
  return { ...payload, rescore: mark };
}

const errorBody = (code: CardError['error']['code'], message: string): CardError => ({ error: { code, message } });

/** The URL HubSpot signed (see CardRoutesDeps.publicUrl). */
function signedUri(c: Context, publicUrl: string | undefined): string {
  const seen = new URL(c.req.url);
  if (publicUrl !== undefined) {
    const base = new URL(publicUrl);
    return `${base.origin}${base.pathname.replace(/\/+$/, '')}${seen.pathname}${seen.search}`;
  }
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
  if (proto === 'https' || proto === 'http') seen.protocol = `${proto}:`;
  return seen.toString();
}

export function createCardRoutes(deps: CardRoutesDeps): Hono {
  const { store, logger } = deps;
  const app = new Hono();
  const rescores = deps.rescores ?? createRescores({ rescore: deps.rescore, now: deps.now, logger });
  const replay = deps.replay ?? createReplayGuard({ windowMs: SIGNATURE_MAX_AGE_MS, now: deps.now });
  // Refusals sent before the body is read close the connection: nobody waits for the rest of an upload.
  const refuse = (c: Context, status: 401 | 413, body: CardError) => c.json(body, status, { connection: 'close' });

  /**
   * Verifies the signature and resolves the portal and contact. Returns a Response to send when
   * the request must be refused. 401 for anything about the signature, 404 for any contact the
   * calling portal does not own: the body never says which records exist elsewhere.
   */
  async function authorize(c: Context): Promise<Response | { portal: string; contactId: string }> {
    if (deps.clientSecret === undefined || deps.clientSecret === '') {
      return c.json(errorBody('internal', 'The card API needs HUBSPOT_CLIENT_SECRET to verify HubSpot signatures.'), 503);
    }
    const signature = c.req.header('x-hubspot-signature-v3');
    const timestamp = c.req.header('x-hubspot-request-timestamp');
    const unauthorized = (reason: string) => {
      logger.warn({ reason, method: c.req.method }, 'card request refused: bad signature');
      return refuse(c, 401, errorBody('unauthorized', 'Invalid or expired HubSpot signature.'));
    };
    // headers before the body: an unsigned or stale request never gets its upload read
    const headers = checkSignatureHeaders(signature, timestamp, deps.now());
    if (!headers.ok) return unauthorized(headers.reason);
    const read = await readBodyLimited(c.req.raw, CARD_BODY_LIMIT);
    if (!read.ok) {
      logger.warn({ method: c.req.method }, 'card request refused: body over 1 MB');
      return refuse(c, 413, errorBody('bad_request', 'Request body too large.'));
    }
    const check = verifyV3({
      clientSecret: deps.clientSecret,
      method: c.req.method,
      uri: signedUri(c, deps.publicUrl),
      body: read.body,
      signature,
      timestamp,
      now: deps.now(),
    });
    if (!check.ok) return unauthorized(check.reason);
    // a signed POST acts once: the same signature again within its window is a replay
    if (c.req.method === 'POST' && signature !== undefined && !replay.firstSeen(signature)) return unauthorized('replayed');
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

  async function reply(c: Context, portal: string, contactId: string): Promise<Response> {
    const payload = withRescoreMark(await buildCardResponse(store, portal, contactId, deps.now()), rescores.mark(portal, contactId));
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
    const before = await buildCardResponse(store, portal, contactId, deps.now());
    if (before === undefined) return c.json(errorBody('not_found', 'Not found.'), 404);
    if (before.state === 'disconnected') return c.json(before, 200);
    // never waits for a whole sync pass: a slow rescore answers "running" and the card polls
    const outcome = await rescores.request(portal, contactId);
    if (outcome.started && outcome.state === 'failed') {
      return c.json(errorBody('rescore_failed', 'Rescoring failed; the last scores are still valid.'), 503);
    }
    logger.info({ portal, contactId, started: outcome.started, state: outcome.state }, 'card rescore');
    return reply(c, portal, contactId);
  });

  app.notFound((c) => c.json(errorBody('not_found', 'Not found.'), 404));
  app.onError((e, c) => {
    logger.error({ err: e.message, path: new URL(c.req.url).pathname }, 'card API error');
    return c.json(errorBody('internal', 'Internal error.'), 500);
  });
  return app;
}
