import { Connection } from 'jsforce';
import { z } from 'zod';
import { CrmError, type CrmErrorKind } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { withRetry, type Limiter } from '../limiter.ts';
import { AbortableTransport } from './transport.ts';

/**
 * Every Salesforce call goes through here: token → limiter → jsforce `conn.request` → zod.
 *
 * jsforce gives us the REST plumbing (instance URL + version, Bearer header, JSON parsing,
 * Salesforce error arrays → `HttpApiError{errorCode}`, `Sforce-Limit-Info` → `conn.limitInfo`).
 * Its own behaviours that would fight our limiter are switched off: no refresh delegate (it
 * retries a 401 forever when the new token is rejected too: jsforce src/session-refresh-delegate.ts) — we call
 * `onUnauthorized` once instead; and its 5-fold exponential retry of GETs (jsforce src/request.ts) is
 * disabled per call with `retry: {maxRetries: 0}`, so `withRetry` alone decides.
 */
export type SalesforceHttpOptions = {
  instanceUrl: string;
  apiVersion: string;
  accessToken: () => Promise<string>;
  onUnauthorized?: () => Promise<string | null>;
  /** where the org's API lives now: read after a refresh, which can move it (a renamed My Domain) */
  instanceUrlNow?: () => Promise<string>;
  limiter: Limiter;
  logger: Logger;
  retry: { retries: number; baseMs: number; maxMs: number };
  timeoutMs: number;
  /** stop sending (rate_limited, policy DAILY) once this share of the daily API budget is used */
  budgetFraction: number;
  /** while paused, re-read `/limits` this often to see whether the rolling 24 h window has freed calls */
  budgetProbeMs: number;
  now: () => number;
};

export type SalesforceRequest<T> = {
  method: 'GET' | 'PATCH' | 'POST' | 'DELETE';
  /** relative to the version root (`/query?q=…`), or absolute from the host (`/services/…`) */
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  schema: z.ZodType<T>;
  signal: AbortSignal;
  /** how the request is named in errors and logs (never the SOQL or record data) */
  label: string;
  /** the answer is text (Bulk API 2.0 CSV results): `schema` sees `{ body, headers }` (lower-case header names) */
  text?: boolean;
};

export type SalesforceHttp = {
  request<T>(req: SalesforceRequest<T>): Promise<T>;
  stats(): SalesforceHttpStats;
};

export type SalesforceHttpStats = {
  calls: number;
  rateLimited: number;
  retries: number;
  /** `/limits` probes sent while paused */
  probes: number;
  apiUsage: { used: number; limit: number } | null;
  /** the daily-budget pause is on */
  paused: boolean;
};

const Limits = z.looseObject({ DailyApiRequests: z.looseObject({ Max: z.number(), Remaining: z.number() }) });

const CRM = 'salesforce' as const;

/** errorCode → kind (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm). Unknown 4xx codes are invalid_request. */
const KINDS: Record<string, CrmErrorKind> = {
  INVALID_SESSION_ID: 'auth',
  INVALID_AUTH_HEADER: 'auth',
  REQUEST_LIMIT_EXCEEDED: 'rate_limited',
  SERVER_UNAVAILABLE: 'unavailable',
  UNKNOWN_EXCEPTION: 'unavailable',
  INSUFFICIENT_ACCESS: 'forbidden',
  INSUFFICIENT_ACCESS_OR_READONLY: 'forbidden',
  API_DISABLED_FOR_ORG: 'forbidden',
  API_CURRENTLY_DISABLED: 'forbidden',
  FUNCTIONALITY_NOT_ENABLED: 'forbidden',
};

export function toCrmError(e: unknown, what: string): CrmError {
  if (e instanceof CrmError) return e;
  const err = e as { errorCode?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  const code = typeof err.errorCode === 'string' ? err.errorCode : undefined;
  const message = typeof err.message === 'string' ? err.message : String(e);
  if (code !== undefined) {
    const status = /^ERROR_HTTP_(\d{3})$/.exec(code)?.[1];
    if (status !== undefined) {
      const n = Number(status);
      const kind: CrmErrorKind = n === 401 ? 'auth' : n === 403 ? 'forbidden' : n === 429 ? 'rate_limited' : n >= 500 ? 'unavailable' : 'invalid_request';
      return new CrmError(kind, `Salesforce ${what}: HTTP ${n}`, { crm: CRM, status: n, code }, { cause: e });
    }
    const kind = KINDS[code] ?? 'invalid_request';
    const details: { crm: 'salesforce'; code: string; retryAfterMs?: number; policy?: string } = { crm: CRM, code };
    if (kind === 'rate_limited') {
      // "TotalRequests Limit exceeded" is the rolling 24 h budget: waiting seconds does not help.
      // Concurrent-request limits ("ConcurrentPerOrgLongTxn …") clear within seconds.
      if (/TotalRequests/i.test(message)) details.policy = 'DAILY';
      else details.retryAfterMs = 5_000;
    }
    return new CrmError(kind, `Salesforce ${what}: ${code}: ${message}`, details, { cause: e });
  }
  // fetch failures, resets, our own timeout
  return new CrmError('unavailable', `Salesforce ${what}: ${message}`, { crm: CRM }, { cause: e });
}

export function createSalesforceHttp(opts: SalesforceHttpOptions): SalesforceHttp {
  // `Sforce-Call-Options: client=rapport` marks our writes: Change Data Capture events carry it in
  // changeOrigin, so a future CDC receiver can drop the echoes of our own write-back (https://developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm)
  const conn = new Connection({ instanceUrl: opts.instanceUrl.replace(/\/+$/, ''), version: opts.apiVersion, accessToken: '', callOptions: { client: 'rapport' } });
  // jsforce's own transport cannot be cancelled by a caller's signal (transport.ts): every call names
  // one that can (jsforce's per-request `transport` option, jsforce src/http-api.ts)
  const transport = new AbortableTransport();
  const counters = { calls: 0, rateLimited: 0, retries: 0, probes: 0 };
  let override: string | undefined;

  // The last known usage. jsforce's `conn.limitInfo` only changes when an answer arrives, so once we
  // pause nothing would ever update it: while paused we re-probe `GET /limits` (DailyApiRequests
  // {Max, Remaining}, https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm)
  // every `budgetProbeMs`; the allowance is a rolling 24 h window, so calls free up over time.
  let usage: { used: number; limit: number } | null = null;
  let pausedSince: number | null = null;
  const overBudget = () => usage !== null && usage.limit > 0 && usage.used / usage.limit >= opts.budgetFraction;
  const paused = (what: string) =>
    new CrmError('rate_limited', `Salesforce ${what}: ${usage?.used ?? 0} of ${usage?.limit ?? 0} daily API requests used; paused at ${Math.round(opts.budgetFraction * 100)}%`, {
      crm: CRM,
      code: 'DAILY_BUDGET',
      policy: 'DAILY',
    });
  const noteUsage = () => {
    const info = conn.limitInfo?.apiUsage;
    if (info !== undefined) usage = { used: info.used, limit: info.limit };
  };

  async function budgetCheck(what: string, signal: AbortSignal): Promise<void> {
    if (!overBudget()) {
      pausedSince = null;
      return;
    }
    const now = opts.now();
    pausedSince ??= now;
    if (now - pausedSince < opts.budgetProbeMs) throw paused(what);
    // the next probe waits a whole window again, whatever this one answers
    pausedSince = now;
    counters.calls++;
    counters.probes++;
    let body: unknown;
    try {
      body = await deadline(Promise.resolve(conn.request({ method: 'GET', url: '/limits' }, { retry: { maxRetries: 0 }, timeout: opts.timeoutMs, signal, transport } as never)), opts.timeoutMs, signal, 'GET limits');
    } catch (e) {
      throw toCrmError(e, 'GET limits');
    }
    const limits = Limits.safeParse(body);
    if (!limits.success) throw new CrmError('bad_response', 'Salesforce GET limits: no DailyApiRequests in the answer', { crm: CRM, code: 'SCHEMA' });
    const { Max, Remaining } = limits.data.DailyApiRequests;
    usage = { used: Math.max(0, Max - Remaining), limit: Max };
    if (overBudget()) throw paused(what);
    pausedSince = null;
    opts.logger.info({ used: usage.used, limit: usage.limit }, 'Salesforce daily API budget available again; resuming');
  }

  async function once<T>(req: SalesforceRequest<T>, token: string): Promise<T> {
    conn.accessToken = token;
    await budgetCheck(req.label, req.signal);
    counters.calls++;
    let body: unknown;
    let textHeaders: Record<string, string> | undefined;
    try {
      const pending = conn.request(
        {
          method: req.method,
          url: req.path,
          headers: { ...(req.body === undefined ? {} : { 'content-type': 'application/json' }), ...req.headers },
          ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        },
        // the transport aborts the fetch after `timeout` ms or when the caller's signal fires: the request itself is cancelled, not just our wait
        { retry: { maxRetries: 0 }, timeout: opts.timeoutMs, signal: req.signal, transport, ...(req.text === true ? { onText: (h: Record<string, string>) => (textHeaders = h) } : {}) } as never,
      );
      body = await deadline(Promise.resolve(pending), opts.timeoutMs, req.signal, req.label);
      if (req.text === true) body = { body: typeof body === 'string' ? body : '', headers: textHeaders ?? {} };
      noteUsage();
    } catch (e) {
      noteUsage();
      const ce = toCrmError(e, req.label);
      if (ce.kind === 'rate_limited') counters.rateLimited++;
      throw ce;
    }
    const parsed = req.schema.safeParse(body);
    if (!parsed.success) {
      throw new CrmError('bad_response', `Salesforce ${req.label}: unexpected response body (${parsed.error.issues[0]?.message ?? 'schema mismatch'})`, { crm: CRM, code: 'SCHEMA' });
    }
    return parsed.data;
  }

  return {
    async request<T>(req: SalesforceRequest<T>): Promise<T> {
      return withRetry(
        async () => {
          const token = override ?? (await opts.accessToken());
          try {
            return await opts.limiter.run('default', () => once(req, token), req.signal);
          } catch (e) {
            if (!(e instanceof CrmError) || e.kind !== 'auth' || opts.onUnauthorized === undefined) throw e;
            // one refresh, one retry: never jsforce's unbounded refresh loop
            const fresh = await opts.onUnauthorized();
            if (fresh === null) throw e;
            if (opts.instanceUrlNow !== undefined) {
              // jsforce builds every URL from conn.instanceUrl: later calls (and this retry) go to the new host
              const moved = (await opts.instanceUrlNow()).replace(/\/+$/, '');
              if (moved !== conn.instanceUrl) {
                opts.logger.info({}, 'Salesforce instance URL changed; calling the new one');
                conn.instanceUrl = moved;
              }
            }
            override = fresh;
            try {
              return await opts.limiter.run('default', () => once(req, fresh), req.signal);
            } finally {
              override = undefined;
            }
          }
        },
        {
          ...opts.retry,
          signal: req.signal,
          onRetry: ({ attempt, waitMs, error }) => {
            counters.retries++;
            opts.logger.debug({ attempt, waitMs, kind: error.kind, code: error.details.code, what: req.label }, 'retrying Salesforce call');
          },
        },
      );
    },
    stats: () => ({ ...counters, apiUsage: usage, paused: overBudget() }),
  };
}

function deadline<T>(p: Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CrmError('unavailable', `Salesforce ${what}: no answer within ${ms} ms`, { crm: CRM, code: 'TIMEOUT' })), ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
