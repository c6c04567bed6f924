import { z } from 'zod';
import { CrmError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { createLimiter, type Limiter } from '../limiter.ts';
import type { CrmConnector } from '../types.ts';
import { salesforceChanges } from './changes.ts';
import { createDescribeCache } from './describe.ts';
import { createSalesforceHttp, type SalesforceHttpStats } from './http.ts';
import { FIELD_OF, scoresAlreadyWrittenSalesforce, writeScoresSalesforce } from './write-scores.ts';

export type SalesforceConnectorOptions = {
  /** the org's instance URL (token response `instance_url`), or the emulator's baseUrl */
  instanceUrl: string;
  /** token provider (the token manager; tests: a constant) */
  accessToken: () => Promise<string>;
  /** called once on INVALID_SESSION_ID: a fresh token to retry with, or null */
  onUnauthorized?: () => Promise<string | null>;
  /** where the org's API lives now, read after each refresh (a refresh answer can carry a new `instance_url`) */
  instanceUrlNow?: () => Promise<string>;
  /** pinned REST version, e.g. config SALESFORCE_API_VERSION '62.0' (jsforce's default 50.0 is never used) */
  apiVersion: string;
  /** 'salesforce:<orgId>'; else learned by whoAmI() */
  portal?: string;
  /** share one limiter between connectors of the same org */
  limiter?: Limiter;
  logger?: Logger;
  /** records per query batch: Sforce-Query-Options batchSize, 200…2000 (default 2000) */
  pageSize?: number;
  /** rows per SOQL query before continuing with a new keyset query (default 50,000) */
  queryLimit?: number;
  /** each incremental pass re-reads this far before the cursor, for late-committing transactions (default 60 s; changes.ts) */
  lookbackMs?: number;
  /** how often a stream's run ends with an ids-only sweep that finds hard-deleted / purged records (default 24 h) */
  sweepEveryMs?: number;
  /** concurrent requests per org (default 4) */
  concurrency?: number;
  /** pause (rate_limited, policy DAILY) once this share of the daily API budget is used (default 0.8) */
  budgetFraction?: number;
  /** while paused, re-read `/limits` this often (default 15 min) */
  budgetProbeMs?: number;
  retry?: { retries?: number; baseMs?: number; maxMs?: number };
  /** the Contact field an admin maps as the churn date (RAPPORT_CHURN signals.churnDateProperty) */
  churnDateField?: string | undefined;
  timeoutMs?: number;
  now?: () => number;
  /** a backfill of an object with this many rows or more uses Bulk API 2.0 query jobs (bulk.ts; default 50,000; null: never) */
  bulkThreshold?: number | null;
  /** Bulk API 2.0 results rows per page (`maxRecords`, default 10,000: one page is parsed in memory at a time) */
  bulkPageRows?: number;
  /** wait between polls of a bulk job (default 2 s) */
  bulkPollMs?: number;
  /** a bulk job not complete after this long fails the pass (default 30 min) */
  bulkPollTimeoutMs?: number;
};

export type SalesforceConnector = CrmConnector & {
  stats(): SalesforceHttpStats;
};

const OrgQuery = z.object({ records: z.array(z.looseObject({ Id: z.string() })).min(1) });

export function createSalesforceConnector(opts: SalesforceConnectorOptions): SalesforceConnector {
  const logger = (opts.logger ?? silentLogger).child({ crm: 'salesforce' });
  // Salesforce has no per-second quota for REST calls, only a concurrency limit on long requests
  // and the rolling 24 h budget (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm): a concurrency cap plus the budget guard in http.ts.
  const limiter = opts.limiter ?? createLimiter({ default: { limit: 1_000_000, intervalMs: 1, concurrency: opts.concurrency ?? 4 } });
  const http = createSalesforceHttp({
    instanceUrl: opts.instanceUrl,
    apiVersion: opts.apiVersion,
    accessToken: opts.accessToken,
    ...(opts.onUnauthorized === undefined ? {} : { onUnauthorized: opts.onUnauthorized }),
    ...(opts.instanceUrlNow === undefined ? {} : { instanceUrlNow: opts.instanceUrlNow }),
    limiter,
    logger,
    retry: { retries: opts.retry?.retries ?? 5, baseMs: opts.retry?.baseMs ?? 500, maxMs: opts.retry?.maxMs ?? 30_000 },
    timeoutMs: opts.timeoutMs ?? 120_000,
    budgetFraction: opts.budgetFraction ?? 0.8,
    budgetProbeMs: opts.budgetProbeMs ?? 15 * 60_000,
    now: opts.now ?? Date.now,
  });
  // one Get Updated mark serves every stream of a pass (changes.ts latestDateCovered)
  const coveredMark = { at: Number.NEGATIVE_INFINITY, value: 0 };
  const pageSize = Math.min(2000, Math.max(200, opts.pageSize ?? 2000));
  const queryLimit = Math.max(pageSize, opts.queryLimit ?? 50_000);
  const now = opts.now ?? Date.now;
  const describe = createDescribeCache(http);
  let portal = opts.portal;

  async function whoAmI(): Promise<{ portal: string }> {
    // a one-row SOQL query authenticates like every sync call (401 → auth) and names the org
    const res = await http.request({
      method: 'GET',
      path: `/query?q=${encodeURIComponent('SELECT Id FROM Organization LIMIT 1')}`,
      schema: OrgQuery,
      signal: new AbortController().signal,
      label: 'query Organization',
    });
    portal = `salesforce:${res.records[0]!.Id}`;
    return { portal };
  }

  return {
    crm: 'salesforce',
    // sObject Collections take up to 200 records per call:
    // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
    writeBatchSize: 200,
    changes(type, cursor, signal) {
      return salesforceChanges(
        { http, portal: async () => portal ?? (await whoAmI()).portal, now, logger, pageSize, queryLimit, lookbackMs: opts.lookbackMs ?? 60_000, describe,
          sweepEveryMs: opts.sweepEveryMs ?? 24 * 3_600_000,
          coveredMark,
          churnDateField: opts.churnDateField,
          bulkThreshold: opts.bulkThreshold === undefined ? 50_000 : opts.bulkThreshold,
          bulk: { pageRows: opts.bulkPageRows ?? 10_000, pollMs: opts.bulkPollMs ?? 2_000, pollTimeoutMs: opts.bulkPollTimeoutMs ?? 30 * 60_000 },
        },
        type,
        cursor,
        signal,
      );
    },
    /**
     * The Rapport_*__c fields are deployed with the SFDX project (docs/install-salesforce.md):
     * creating fields needs the Metadata API and an admin, so provisioning only VERIFIES them
     * (describe Contact) and says which are missing. Idempotent by construction.
     */
    async provision(signal) {
      // always a fresh describe: provisioning is when an admin has just deployed or granted access
      describe.forget('Contact');
      const d = await describe.get('Contact', signal);
      const fields = Object.values(FIELD_OF).map((s) => s.field);
      const missing = fields.filter((f) => d?.fields.has(f.toLowerCase()) !== true);
      if (missing.length > 0) {
        throw new CrmError(
          'invalid_request',
          `The Salesforce org lacks the Rapport fields ${missing.join(', ')} on Contact: deploy ui-extension/salesforce (see docs/install-salesforce.md) and grant field access to the integration user`,
          { crm: 'salesforce', code: 'FIELDS_MISSING' },
        );
      }
      // visible but read-only (the permission set gives read, not edit): every write would fail
      const readOnly = fields.filter((f) => d?.fields.get(f.toLowerCase())?.updateable !== true);
      if (readOnly.length > 0) {
        throw new CrmError(
          'forbidden',
          `The integration user can read but not edit ${readOnly.join(', ')} on Contact: assign the Rapport_Integration permission set (see docs/install-salesforce.md)`,
          { crm: 'salesforce', code: 'FIELDS_READ_ONLY' },
        );
      }
    },
    writeScores: (updates, signal) => writeScoresSalesforce(http, updates, signal),
    scoresAlreadyWritten: (updates, signal) => scoresAlreadyWrittenSalesforce(http, describe, updates, signal),
    whoAmI,
    stats: () => http.stats(),
  };
}

export { authorizeUrl, exchangeCode, refreshAccessToken, revokeToken, SALESFORCE_SCOPES, type SalesforceOAuthClient, type SalesforceTokens } from './oauth.ts';
