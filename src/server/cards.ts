/**
 * The card API (mounted at /api/cards by createApp): what the CRM's card reads. Every request is
 * authenticated by the CRM's own middleware (its provider's `cardRequestAuth`, e.g. a signature
 * over the raw body), which also names the portal; the contact must belong to it; answers come
 * from the local cache only (the CRM's proxy gives the call little time and a small body).
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { CardAuthEnv, CardAuthFailure, CardRequestAuth } from '../connectors/provider.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import type { ContactScores, Reason, ScoreKey } from '../store/scores.ts';
import { DEFAULT_BANDS } from '../scoring/bands.ts';
import { describeIssue } from '../scoring/explain.ts';
import { DATA_ISSUE_CODES } from '../connectors/types.ts';
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
  /** the CRM's request authentication (its provider's); unset → every request is refused (503) */
  auth: CardRequestAuth | undefined;
  now: () => number;
  /** recompute one contact's scores now (the daemon's); resolves when they are saved */
  rescore: (portal: string, contactId: string) => Promise<void>;
  logger: Logger;
  /** "Rescore now" with its per-contact limit, shared with the preview (default: one of its own over `rescore`) */
  rescores?: Rescores;
  /** request keys already used for a POST (default: one of its own) */
  replay?: ReplayGuard;
};

/** How long a signed request stays valid, at most: a replay key is remembered this long (twice, see replay-guard.ts). */
export const REPLAY_WINDOW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const CHANGE_WINDOW_MS = 30 * DAY_MS;

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

/** A data issue as scores store it (`extra.dataIssues`), or the words an older Rapport stored. */
const storedIssue = z.union([z.string(), z.object({ code: z.enum(DATA_ISSUE_CODES), field: z.string() })]);

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
  // Stored as {code, field}; rows scored before that hold the words themselves.
  // each entry on its own: one of an unknown shape is dropped, not the whole list
  const raw: unknown = s.extra['dataIssues'];
  const dataIssues = (Array.isArray(raw) ? raw : [])
    .flatMap((x: unknown) => {
      const i = storedIssue.safeParse(x);
      return i.success ? [typeof i.data === 'string' ? i.data : describeIssue(i.data)] : [];
    })
    .filter((t) => t !== '')
    .slice(0, 10)
    .map((t) => t.slice(0, 200));
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

export function createCardRoutes(deps: CardRoutesDeps): Hono<CardAuthEnv> {
  const { store, logger } = deps;
  const app = new Hono<CardAuthEnv>();
  const rescores = deps.rescores ?? createRescores({ rescore: deps.rescore, now: deps.now, logger });
  const replay = deps.replay ?? createReplayGuard({ windowMs: REPLAY_WINDOW_MS, now: deps.now });
  const codes: Record<CardAuthFailure['status'], CardError['error']['code']> = { 400: 'bad_request', 401: 'unauthorized', 413: 'bad_request', 503: 'internal' };
  const refuse = (c: Context, f: CardAuthFailure): Response => {
    logger.warn({ reason: f.code, status: f.status, method: c.req.method }, 'card request refused');
    return c.json(errorBody(codes[f.status], f.message), f.status);
  };
  const unconfigured = (c: Context): Response => refuse(c, { status: 503, code: 'no_card_auth', message: 'No CRM with a card is configured.' });
  const auth = deps.auth?.(refuse) ?? unconfigured;

  /**
   * After the CRM's middleware: a signed POST acts once (the same request again within its
   * window is a replay), and the contact id must be well-formed. 404 for any contact the calling
   * portal does not own: the body never says which records exist elsewhere.
   */
  function target(c: Context<CardAuthEnv>): Response | { portal: string; contactId: string } {
    if (c.req.method === 'POST' && !replay.firstSeen(c.get('replayKey'))) {
      return refuse(c, { status: 401, code: 'replayed', message: 'This signed request was already used.' });
    }
    const id = contactIdSchema.safeParse(c.req.param('id'));
    if (!id.success) return c.json(errorBody('not_found', 'Not found.'), 404);
    return { portal: c.get('portal'), contactId: id.data };
  }

  async function reply(c: Context, portal: string, contactId: string): Promise<Response> {
    const payload = withRescoreMark(await buildCardResponse(store, portal, contactId, deps.now()), rescores.mark(portal, contactId));
    if (payload === undefined) return c.json(errorBody('not_found', 'Not found.'), 404);
    return c.json(payload, 200);
  }

  app.use('*', async (c, next) => {
    await next();
    // Per-user, per-contact data: never cached by the CRM's proxy or anyone else.
    c.header('Cache-Control', 'no-store');
  });

  app.get('/contacts/:id', auth, (c) => {
    const t = target(c);
    if (t instanceof Response) return t;
    return reply(c, t.portal, t.contactId);
  });

  app.post('/contacts/:id/rescore', auth, async (c) => {
    const t = target(c);
    if (t instanceof Response) return t;
    const { portal, contactId } = t;
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
