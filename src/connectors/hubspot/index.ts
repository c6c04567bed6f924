import { CrmError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { createLimiter, type Limiter } from '../limiter.ts';
import type { CrmConnector } from '../types.ts';
import { hubspotChanges, liveIds, readRecords, type ChangesContext } from './changes.ts';
import { HUBSPOT_DEEP_EVERY_MS, HUBSPOT_DEEP_LOOKBACK_MS, HUBSPOT_LOOKBACK_MS, HUBSPOT_SWEEP_EVERY_MS } from './freshness.ts';
import { createHubspotHttp } from './http.ts';
import { createDuplicateEmailFlagger } from './mapping.ts';
import { provisionHubspot } from './provision.ts';
import { AccountInfo, ListPage, TokenInfo } from './schemas.ts';
import { scoresAlreadyWrittenHubspot, writeScoresHubspot } from './write-scores.ts';

export type HubspotConnectorOptions = {
  /** e.g. the sandbox's baseUrl, or https://api.hubapi.com */
  basePath: string;
  /** token provider (private app: constant; OAuth: the token manager) */
  accessToken: () => Promise<string>;
  /** called once on a 401: a fresh token to retry with, or null */
  onUnauthorized?: () => Promise<string | null>;
  /** 'hubspot:<hubId>'; else learned by whoAmI() */
  portal?: string;
  /** HubSpot OAuth apps: 110 / 10 s per account, search 5 / s (https://developers.hubspot.com/docs/api/usage-details). `false` = no client-side limit (tests). */
  limits?: { per10s: number; searchPerSecond: number } | false;
  /** share one limiter between connectors of the same account (e.g. one per stream) */
  limiter?: Limiter;
  logger?: Logger;
  /** list page size (≤ 100); search pages are twice that, ≤ 200 */
  pageSize?: number;
  retry?: { retries?: number; baseMs?: number; maxMs?: number };
  timeoutMs?: number;
  now?: () => number;
  /** incremental tuning, see changes.ts */
  lookbackMs?: number;
  sweepEveryMs?: number;
  deletionsEveryMs?: number;
  /** the contact property an admin maps as the churn date (RAPPORT_CHURN signals.churnDateProperty) */
  churnDateProperty?: string;
  /** how often a pass re-searches the last `deepLookbackMs` for late-indexed changes (0 = never), see changes.ts */
  deepEveryMs?: number;
  deepLookbackMs?: number;
};

export type HubspotConnector = CrmConnector & { stats(): { calls: number; rateLimited: number; retries: number } };

export const HUBSPOT_DEFAULT_LIMITS = { per10s: 110, searchPerSecond: 5 };

export function createHubspotConnector(opts: HubspotConnectorOptions): HubspotConnector {
  const logger = (opts.logger ?? silentLogger).child({ crm: 'hubspot' });
  const limits = opts.limits === undefined ? HUBSPOT_DEFAULT_LIMITS : opts.limits;
  const limiter =
    opts.limiter ??
    (limits === false
      ? createLimiter({ default: { limit: 1_000_000, intervalMs: 1, concurrency: 8 } })
      : createLimiter({
          default: { limit: limits.per10s, intervalMs: 10_000 },
          search: { limit: limits.searchPerSecond, intervalMs: 1_000, concurrency: 2 },
        }));
  const http = createHubspotHttp({
    basePath: opts.basePath,
    accessToken: opts.accessToken,
    ...(opts.onUnauthorized === undefined ? {} : { onUnauthorized: opts.onUnauthorized }),
    limiter,
    logger,
    retry: { retries: opts.retry?.retries ?? 5, baseMs: opts.retry?.baseMs ?? 500, maxMs: opts.retry?.maxMs ?? 30_000 },
    timeoutMs: opts.timeoutMs ?? 30_000,
    // with limits off (tests) there is nothing to learn; otherwise the headers are the truth
    learnLimits: limits !== false,
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  const pageSize = Math.min(100, Math.max(1, opts.pageSize ?? 100));
  const now = opts.now ?? Date.now;
  let portal = opts.portal;

  async function whoAmI(): Promise<{ portal: string }> {
    // each request has its own timeout (http.ts); retries of a 429 or 5xx may take longer than one
    const signal = new AbortController().signal;
    const token = await opts.accessToken();
    // Private-app tokens (`pat-<region>-…`, https://developers.hubspot.com/docs/apps/legacy-apps/private-apps/overview) are not OAuth tokens:
    // token metadata refuses them (reported: 400 "The access token must have the correct format",
    // https://github.com/HubSpot/hubspot-api-nodejs/issues/530), so they go straight to account info.
    if (!token.startsWith('pat-')) {
      try {
        // OAuth tokens: token metadata carries hub_id (https://developers.hubspot.com/docs/api/oauth-quickstart-guide)
        const { body } = await http.request({
          method: 'GET',
          path: `/oauth/v1/access-tokens/${encodeURIComponent(token)}`,
          label: 'GET /oauth/v1/access-tokens/{token}',
          schema: TokenInfo,
          signal,
        });
        portal = `hubspot:${body.hub_id}`;
        return { portal };
      } catch (e) {
        // Not an OAuth token we can introspect (a private-app token of another format, or expired): ask
        // the account-info API, which authenticates like any CRM call (so a dead token gives a clear 401 → auth).
        if (!(e instanceof CrmError) || e.kind !== 'invalid_request') throw e;
      }
    }
    try {
      // `portalId` of the token's account, scope `oauth` only (https://developers.hubspot.com/docs/api-reference/latest/account/account-information/guide)
      const { body } = await http.request({ method: 'GET', path: '/account-info/v3/details', schema: AccountInfo, signal });
      portal = `hubspot:${body.portalId}`;
    } catch (e2) {
      if (!(e2 instanceof CrmError) || e2.kind !== 'invalid_request') throw e2;
      // no account-info either (e.g. an emulator without it): a cheap CRM call tells a dead token from a missing endpoint
      await http.request({ method: 'GET', path: '/crm/v3/objects/contacts', query: [['limit', '1'], ['properties', 'hs_object_id']], schema: ListPage, signal });
      throw new CrmError('invalid_request', `HubSpot accepted the token but told us neither its token metadata nor its account (${e2.message})`, {
        crm: 'hubspot',
        code: 'PORTAL_UNKNOWN',
      });
    }
    return { portal };
  }

  const flag = createDuplicateEmailFlagger();
  const ctx: ChangesContext = {
    http,
    portal: async () => portal ?? (await whoAmI()).portal,
    now,
    logger,
    pageSize,
    searchPageSize: Math.min(200, pageSize * 2),
    lookbackMs: opts.lookbackMs ?? HUBSPOT_LOOKBACK_MS,
    sweepEveryMs: opts.sweepEveryMs ?? HUBSPOT_SWEEP_EVERY_MS,
    deletionsEveryMs: opts.deletionsEveryMs ?? 0,
    deepEveryMs: opts.deepEveryMs ?? HUBSPOT_DEEP_EVERY_MS,
    deepLookbackMs: opts.deepLookbackMs ?? HUBSPOT_DEEP_LOOKBACK_MS,
    flag,
    mapped: opts.churnDateProperty === undefined ? {} : { churnedAt: opts.churnDateProperty },
  };
  return {
    crm: 'hubspot',
    changes(type, cursor, signal) {
      return hubspotChanges(ctx, type, cursor, signal);
    },
    records: (type, ids, signal) => readRecords(ctx, type, ids, signal),
    liveIds: (type, signal) => liveIds(ctx, type, signal),
    async provision(signal) {
      const { created } = await provisionHubspot(http, signal);
      if (created.length > 0) logger.info({ created }, 'provisioned HubSpot properties');
    },
    writeScores: (updates, signal) => writeScoresHubspot(http, updates, signal),
    scoresAlreadyWritten: (updates, signal) => scoresAlreadyWrittenHubspot(http, updates, signal),
    whoAmI,
    stats: () => http.stats(),
  };
}
