import { Hono, type Context, type Next } from 'hono';
import type { Logger } from '../../log.ts';
import { silentLogger } from '../../log.ts';
import { createApiRoutes, type ApiBehaviour, type ApiEnv, type BatchUpdateMissingMode } from './api.ts';
import { createClock, type SandboxClock } from './clock.ts';
import { expiredAuthentication, hubspotError, invalidAuthentication, notImplemented, rateLimited } from './errors.ts';
import { createFaultInjector } from './faults.ts';
import { ACCOUNT_UTC_OFFSET_MS, createDailyCounter, createRateLimiter, DEFAULT_LIMITS, OAUTH_PER_10S, TIERS, type Lane, type Tier } from './limits.ts';
import { createAdminRoutes } from './admin.ts';
import { createOAuthRoutes, type PrivateAppTokenMetadata } from './oauth.ts';
import { randomBytes } from 'node:crypto';
import { createSandboxPortals, type SandboxPortalsImpl } from './portals.ts';
import { createPropertyRegistry } from './properties.ts';
import { createRandom } from '../../stats/random.ts';
import { createWriteCounts, type WriteCounts } from './write-counts.ts';
import { CORRELATION_HEADER, JSON_CONTENT_TYPE, newCorrelationId } from './responses.ts';
import { createSandboxStorage } from './storage.ts';
import type { FaultRates, SandboxData, SandboxLimits, SandboxStats } from './types.ts';
import { createSandboxWebhooks, type SandboxWebhooksImpl, type WebhookOptions } from './webhooks.ts';
import { serveEmulator } from '../serve.ts';

export type { FaultRates, SandboxChange, SandboxData, SandboxLimits, SandboxPortals, SandboxStats, SandboxWebhooks } from './types.ts';
export type { SandboxClock } from './clock.ts';

/**
 * A local HubSpot (ARCHITECTURE.md §7): the CRM API subset Rapport uses,
 * strictly — anything else gets 501 naming the request — with HubSpot's limits, 429 bodies,
 * paging, the search cap, fault injection and a controllable clock. It keeps its records in its
 * OWN SQLite file (default in memory), never in Rapport's database.
 */
export type HubspotSandboxOptions = {
  dbPath?: string;
  clock?: SandboxClock;
  limits?: SandboxLimits | false;
  faults?: FaultRates;
  seed?: number;
  oauth?: { clientId: string; clientSecret: string; appId: number };
  logger?: Logger;
  /** how long a `timeout` fault hangs when the client does not give up first (default 30 s) */
  hangMs?: number;
  /** A2: token for the `/_sandbox/*` admin API (admin.ts); default random, read it from `sandbox.adminToken` */
  adminToken?: string;
  /** how batch update answers ids it cannot update (default multi-status, see api.ts) */
  batchUpdateMissing?: BatchUpdateMissingMode;
  /**
   * How far the search index trails writes, ms (default 3,000: HubSpot's "a few moments",
   * https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). A record modified within this window is not found by search yet.
   */
  searchLagMs?: number;
  /**
   * The account's tier (limits.ts TIERS): private-app tokens get its ten-secondly and daily
   * limits (with X-HubSpot-RateLimit-Daily headers), OAuth tokens 110 / 10 s and no daily limit.
   * Unset: every token gets `limits.per10s`, no daily limit.
   */
  tier?: Tier;
  /** what token metadata answers for a private-app token (oauth.ts; default `bad-format`, as reported of HubSpot) */
  privateAppTokenMetadata?: PrivateAppTokenMetadata;
  /** A2: webhook delivery tuning (tests shrink the batching window and retry delays) */
  webhookDelivery?: Pick<WebhookOptions, 'batchWindowMs' | 'maxEventsPerRequest' | 'maxConcurrentPerPortal' | 'timeoutMs' | 'retry' | 'fetch'>;
};

export type HubspotSandbox = {
  app: Hono;
  clock: SandboxClock;
  data: SandboxData;
  portals: SandboxPortalsImpl;
  webhooks: SandboxWebhooksImpl;
  /** A2: the `/_sandbox/*` admin token */
  adminToken: string;
  setFaults(f: FaultRates): void;
  setLimits(l: SandboxLimits | false): void;
  /** v4 association batch reads of these from-ids fail per input with a real error (not NO_ASSOCIATIONS_FOUND) */
  setAssociationReadFailures(ids: readonly string[]): void;
  /** how batch update answers ids it cannot update (api.ts BatchUpdateMissingMode); default multi-status */
  setBatchUpdateMissing(mode: BatchUpdateMissingMode): void;
  /** how far the search index trails writes (ms) */
  setSearchLag(ms: number): void;
  /** `n` of today's daily calls used by the account's other integrations (the daily limit is per account, limits.ts) */
  useDailyCalls(hubId: number, n: number): void;
  stats(hubId?: number): SandboxStats;
  /** test probe: batch-update inputs per record, and how many changed a value (write-counts.ts) */
  writeCounts: WriteCounts;
  close(): Promise<void>;
};

/** HubSpot's search index trails writes by "a few moments" (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). */
export const DEFAULT_SEARCH_LAG_MS = 3_000;

type Counters = { requests: number; rateLimited: number; faults: number; byRoute: Record<string, number> };
const emptyCounters = (): Counters => ({ requests: 0, rateLimited: 0, faults: 0, byRoute: {} });

/** `/crm/v3/objects/contacts/123` → `/crm/v3/objects/contacts/{id}`: stats group by route, not record. */
const routeKey = (method: string, path: string) => `${method} ${path.replace(/\/\d+(?=\/|$)/g, '/{id}')}`;

export function createHubspotSandbox(opts: HubspotSandboxOptions = {}): HubspotSandbox {
  const logger = opts.logger ?? silentLogger;
  const clock = opts.clock ?? createClock();
  const storage = createSandboxStorage({ ...(opts.dbPath === undefined ? {} : { dbPath: opts.dbPath }), clock });
  const properties = createPropertyRegistry(storage);
  const random = createRandom(opts.seed ?? 1);
  const faults = createFaultInjector(random, opts.faults ?? {});
  const limiter = createRateLimiter(clock, opts.limits ?? DEFAULT_LIMITS);
  const daily = createDailyCounter(clock);
  const tier = opts.tier;
  const portals = createSandboxPortals({ clock, apps: opts.oauth === undefined ? [] : [opts.oauth] });
  const webhooks = createSandboxWebhooks({ ...opts.webhookDelivery, data: storage, clock, isActive: (hubId) => !portals.isRevoked(hubId), logger, ...(opts.seed === undefined ? {} : { seed: opts.seed }) });
  const adminToken = opts.adminToken ?? `sbx-admin-${randomBytes(18).toString('base64url')}`;
  const hangMs = opts.hangMs ?? 30_000;
  const closing = new AbortController();
  const writeCounts = createWriteCounts();

  const total = emptyCounters();
  const perHub = new Map<number, Counters>();
  const count = (hubId: number | undefined, f: (c: Counters) => void) => {
    f(total);
    if (hubId === undefined) return;
    let c = perHub.get(hubId);
    if (c === undefined) perHub.set(hubId, (c = emptyCounters()));
    f(c);
  };

  const app = new Hono();

  app.onError((err, c) => {
    logger.error({ err: err.message, method: c.req.method, path: c.req.path }, 'sandbox handler failed');
    return hubspotError(500, { message: 'internal error', category: 'INTERNAL_ERROR' });
  });
  app.notFound((c) => notImplemented(c.req.method, c.req.path));

  app.route('/', createOAuthRoutes({ portals, ...(opts.privateAppTokenMetadata === undefined ? {} : { privateAppTokenMetadata: opts.privateAppTokenMetadata }) }));
  app.route(
    '/',
    createAdminRoutes({
      adminToken, portals, data: storage, clock, webhooks,
      setFaults: (f) => faults.set(f), setLimits: (l) => limiter.set(l), stats: (hubId) => sandboxStats(hubId), writeCounts,
    }),
  );

  /** Authentication, rate limits and faults, in that order, for every CRM call. */
  const guard = async (c: Context<ApiEnv>, next: Next) => {
    const header = c.req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const auth = bearer === undefined ? ({ error: 'invalid' } as const) : portals.authenticate(bearer);
    const key = routeKey(c.req.method, c.req.path);
    if ('error' in auth) {
      count(undefined, (s) => {
        s.requests++;
        s.byRoute[key] = (s.byRoute[key] ?? 0) + 1;
      });
      if (auth.error === 'expired') {
        const now = clock.now();
        const expiredAt = auth.expiredAt ?? now;
        return expiredAuthentication(Math.max(0, now - expiredAt), expiredAt);
      }
      return invalidAuthentication();
    }
    const hubId = auth.hubId;
    count(hubId, (s) => {
      s.requests++;
      s.byRoute[key] = (s.byRoute[key] ?? 0) + 1;
    });

    // Search has its own per-second lane and no ten-secondly headers; the v4 association batch
    // endpoints are exempt from the ten-secondly limit (https://developers.hubspot.com/docs/api/usage-details, https://developers.hubspot.com/docs/api-reference/latest/crm/associations/associate-records/guide).
    const isSearch = c.req.method === 'POST' && c.req.path.endsWith('/search');
    const exempt = c.req.path.startsWith('/crm/v4/associations/');
    const lane: Lane = isSearch ? 'search' : 'default';
    const grant = auth as { kind?: string };
    const privateApp = grant.kind !== 'oauth' && tier !== undefined && tier !== 'oauth';
    const per10s = tier === undefined ? undefined : privateApp ? TIERS[tier].privatePer10s : OAUTH_PER_10S;
    const dailyLimit = privateApp && tier !== undefined ? TIERS[tier].daily : undefined;
    const decision = exempt ? undefined : limiter.check(hubId, lane, per10s);
    // groupName format observed for API keys (https://developers.hubspot.com/docs/api/usage-details); the private-app / OAuth wording is UNCONFIRMED
    const groupName = `publicapi:${grant.kind === 'oauth' ? 'oauth' : 'private-app'}-api-calls-ten-secondly:${hubId}`;
    // the daily limit counts private-app requests (not search, https://developers.hubspot.com/docs/api/usage-details); OAuth has none
    let dailyRemaining: number | undefined;
    if (dailyLimit !== undefined && lane === 'default' && limiter.current() !== false) {
      dailyRemaining = daily.take(hubId, dailyLimit);
      if (dailyRemaining < 0) {
        count(hubId, (s) => s.rateLimited++);
        return rateLimited('DAILY', groupName, { 'X-HubSpot-RateLimit-Daily': String(dailyLimit), 'X-HubSpot-RateLimit-Daily-Remaining': '0' });
      }
    }
    if (decision !== undefined && !decision.ok) {
      count(hubId, (s) => s.rateLimited++);
      const headers: Record<string, string> =
        lane === 'default' ? { 'X-HubSpot-RateLimit-Interval-Milliseconds': String(decision.intervalMs), 'X-HubSpot-RateLimit-Max': String(decision.max), 'X-HubSpot-RateLimit-Remaining': '0' } : {};
      return rateLimited(decision.policy, groupName, headers);
    }

    const fault = faults.draw();
    if (fault !== undefined) {
      count(hubId, (s) => s.faults++);
      switch (fault) {
        case '429':
          return rateLimited(isSearch ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING', groupName);
        case '500':
          return hubspotError(500, { message: 'internal error', category: 'INTERNAL_ERROR' });
        case 'malformed': {
          const correlationId = newCorrelationId();
          // a 2xx whose body is cut short: clients must treat it as a bad response, not data
          return new Response('{"results":[{"id":"1","properties":{"email":', {
            status: 200,
            headers: { 'Content-Type': JSON_CONTENT_TYPE, [CORRELATION_HEADER]: correlationId },
          });
        }
        case 'timeout':
          await hang(c.req.raw.signal);
          return hubspotError(504, { message: 'The request timed out.', category: 'GATEWAY_TIMEOUT' });
      }
    }

    c.set('hubId', hubId);
    c.set('scopes', auth.scopes);
    await next();
    // every HubSpot response carries one (https://developers.hubspot.com/docs/api/usage-details header sample); errors set it with their body's correlationId
    if (!c.res.headers.has(CORRELATION_HEADER)) c.res.headers.set(CORRELATION_HEADER, newCorrelationId());
    if (decision !== undefined && decision.ok && lane === 'default') {
      c.res.headers.set('X-HubSpot-RateLimit-Interval-Milliseconds', String(decision.intervalMs));
      c.res.headers.set('X-HubSpot-RateLimit-Max', String(decision.max));
      c.res.headers.set('X-HubSpot-RateLimit-Remaining', String(decision.remaining));
    }
    if (dailyLimit !== undefined && dailyRemaining !== undefined) {
      c.res.headers.set('X-HubSpot-RateLimit-Daily', String(dailyLimit));
      c.res.headers.set('X-HubSpot-RateLimit-Daily-Remaining', String(dailyRemaining));
    }
  };

  /** Hangs until the client gives up, the sandbox closes, or `hangMs` passes. */
  const hang = (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, hangMs);
      signal.addEventListener('abort', done);
      closing.signal.addEventListener('abort', done);
    });

  function sandboxStats(hubId?: number): SandboxStats {
    const c = hubId === undefined ? total : (perHub.get(hubId) ?? emptyCounters());
    return { requests: c.requests, rateLimited: c.rateLimited, faults: c.faults, byRoute: { ...c.byRoute } };
  }

  const crm = new Hono<ApiEnv>();
  crm.use('/crm/*', guard);
  // (D1) Which portal a token belongs to, for private-app tokens that the OAuth token-metadata
  // endpoint does not know: real HubSpot's account-info API (field names from its v3 spec).
  crm.use('/account-info/*', guard);
  crm.get('/account-info/v3/details', (c) =>
    c.json({
      portalId: c.get('hubId'),
      accountType: 'STANDARD',
      timeZone: 'US/Eastern',
      companyCurrency: 'USD',
      additionalCurrencies: [],
      utcOffset: '-05:00',
      utcOffsetMilliseconds: ACCOUNT_UTC_OFFSET_MS,
      uiDomain: 'app.hubspot.com',
      dataHostingLocation: 'na1',
    }),
  );
  // A private app's daily usage and when it resets (the account's midnight; field names and the
  // `name` from https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-usage-details).
  // For OAuth tokens, which have no daily limit, the reply is UNCONFIRMED: an empty list here.
  crm.get('/account-info/v3/api-usage/daily/private-apps', (c) => {
    const hubId = c.get('hubId');
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
    const grant = portals.authenticate(bearer) as { kind?: string };
    const limit = grant.kind !== 'oauth' && tier !== undefined && tier !== 'oauth' ? TIERS[tier].daily : undefined;
    if (limit === undefined) return c.json({ results: [] });
    return c.json({
      results: [
        {
          name: 'private-apps-api-calls-daily',
          usageLimit: limit,
          currentUsage: daily.used(hubId),
          collectedAt: new Date(clock.now()).toISOString(),
          fetchStatus: 'SUCCESS',
          resetsAt: new Date(daily.resetsAt()).toISOString(),
        },
      ],
    });
  });
  const behaviour: ApiBehaviour = {
    associationReadFailures: new Set(),
    batchUpdateMissing: opts.batchUpdateMissing ?? 'multi-status',
    searchLagMs: opts.searchLagMs ?? DEFAULT_SEARCH_LAG_MS,
  };
  crm.route('/', createApiRoutes({ storage, properties, clock, behaviour, writeCounts }));
  crm.notFound((c) => notImplemented(c.req.method, c.req.path));
  app.route('/', crm as unknown as Hono);

  return {
    app,
    clock,
    data: storage,
    portals,
    webhooks,
    adminToken,
    setFaults: (f) => faults.set(f),
    setLimits: (l) => limiter.set(l),
    setAssociationReadFailures: (ids) => {
      behaviour.associationReadFailures = new Set(ids);
    },
    setBatchUpdateMissing: (mode) => {
      behaviour.batchUpdateMissing = mode;
    },
    setSearchLag: (ms) => {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`search lag must be ≥ 0 ms, got ${ms}`);
      behaviour.searchLagMs = ms;
    },
    useDailyCalls: (hubId, n) => {
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`daily calls must be a whole number ≥ 0, got ${n}`);
      daily.use(hubId, n);
    },
    stats: (hubId) => sandboxStats(hubId),
    writeCounts,
    async close() {
      closing.abort();
      await webhooks.close();
      storage.close();
    },
  };
}

/** Serves a sandbox on 127.0.0.1 (port 0 = any free port) with @hono/node-server. */
export async function startHubspotSandbox(
  opts: HubspotSandboxOptions & { port?: number; host?: string } = {},
): Promise<{ sandbox: HubspotSandbox; baseUrl: string; close(): Promise<void> }> {
  const sandbox = createHubspotSandbox(opts);
  const served = await serveEmulator(sandbox.app.fetch, opts, () => sandbox.close());
  return { sandbox, ...served };
}
