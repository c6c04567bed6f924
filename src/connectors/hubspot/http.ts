import { Client } from '@hubspot/api-client';
import type { z } from 'zod';
import { CrmError, isBudgetPause } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { withRetry, type LaneName, type Limiter } from '../limiter.ts';
import { DailyUsage, ErrorBody } from './schemas.ts';

/**
 * Every HubSpot call goes through here: token → limiter lane → `client.apiRequest` → status and
 * body checked → zod. We use the client's `apiRequest` (its basePath, auth header, user agent)
 * rather than the generated models because the models silently drop unknown keys and turn
 * dates into Date objects (https://developers.hubspot.com/docs/guides/crm/using-object-apis), so a malformed body could not be told apart from a
 * good one; here the raw JSON is parsed by our own schema and a mismatch is `bad_response`.
 *
 * The client's own retry and limiter stay OFF (`numberOfApiCallRetries: 0`, no
 * `limiterOptions`, the client's README and RetryDecorator, https://github.com/HubSpot/hubspot-api-nodejs): `withRetry` and our lanes decide.
 */
export type HubspotHttpOptions = {
  basePath: string;
  accessToken: () => Promise<string>;
  onUnauthorized?: () => Promise<string | null>;
  limiter: Limiter;
  logger: Logger;
  retry: { retries: number; baseMs: number; maxMs: number };
  timeoutMs: number;
  /**
   * Learn the account's real limits from the first responses (https://developers.hubspot.com/docs/api/usage-details): the ten-secondly
   * window from X-HubSpot-RateLimit-Max / -Interval-Milliseconds. Off when false (tests without limits).
   */
  learnLimits?: boolean;
  /** the clock the daily-limit pause is measured on (tests pass the sandbox's) */
  now?: () => number;
};

export type HubspotRequest<T> = {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: [string, string][];
  body?: unknown;
  lane?: LaneName;
  schema: z.ZodType<T>;
  signal: AbortSignal;
  /** how the request is named in errors and logs when the path holds a secret (token metadata) */
  label?: string;
};

export type HubspotHttp = {
  request<T>(req: HubspotRequest<T>): Promise<{ status: number; body: T }>;
  stats(): { calls: number; rateLimited: number; retries: number };
};

const CRM = 'hubspot' as const;

/** `details.code` of the pause once a private app's daily limit is used up (until the next day). */
export const DAILY_LIMIT = 'DAILY_LIMIT';

/** HubSpot's secondly search window is one second (https://developers.hubspot.com/docs/api/usage-details); the ten-secondly one we back off from exponentially. */
const POLICY_WAIT_MS: Record<string, number> = { SECONDLY: 1_000 };

export function createHubspotHttp(opts: HubspotHttpOptions): HubspotHttp {
  let client: { token: string; client: Client } | undefined;
  const counters = { calls: 0, rateLimited: 0, retries: 0 };
  const now = opts.now ?? Date.now;
  /** private-app daily limit (X-HubSpot-RateLimit-Daily-Remaining hit 0): no call before this time */
  let dailyBlockedUntil = 0;
  let dailyLimit: string | null = null;
  /** when the daily limit resets (the account's midnight, from its usage API); undefined = not known */
  let resetsAt: number | undefined;
  /** a private app's responses carry the daily headers: learn `resetsAt` after this call, at most this often */
  let usageWanted = false;
  let usageNextAt = 0;
  let learning = false;
  /** when the last daily pause ended, to tell a reset we guessed too early */
  let resumedAt: number | undefined;
  const observe = (headers: Headers) => {
    const max = Number(headers.get('x-hubspot-ratelimit-max'));
    const intervalMs = Number(headers.get('x-hubspot-ratelimit-interval-milliseconds'));
    if (opts.learnLimits !== false && Number.isInteger(max) && max > 0 && Number.isInteger(intervalMs) && intervalMs > 0) {
      const current = opts.limiter.lane('default');
      if (current.limit !== max || current.intervalMs !== intervalMs) {
        opts.logger.info({ from: `${current.limit}/${current.intervalMs} ms`, to: `${max}/${intervalMs} ms` }, 'hubspot: rate window learned from the response headers');
        opts.limiter.setLane('default', { limit: max, intervalMs });
      }
    }
    if (headers.get('x-hubspot-ratelimit-daily') !== null && !(resetsAt !== undefined && resetsAt > now()) && now() >= usageNextAt) usageWanted = true;
    const dailyRemaining = headers.get('x-hubspot-ratelimit-daily-remaining');
    // The call that brought the remainder to 0 was the last one HubSpot allows today: stop here, before a call is refused.
    if (dailyRemaining !== null && Number(dailyRemaining) <= 0) pauseForTheDay(headers.get('x-hubspot-ratelimit-daily'));
  };
  /**
   * No call until the daily limit resets: at midnight in the account's time zone
   * (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details; the usage API's
   * `resetsAt`, e.g. 04:00Z for an account on US Eastern daylight time). Not known (the usage call
   * failed): the next UTC midnight, then hourly, since the account's midnight may come later.
   */
  const pauseForTheDay = (limit: string | null) => {
    const t = now();
    let until: number;
    if (resetsAt !== undefined && resetsAt > t) until = resetsAt;
    else if (resumedAt !== undefined && t - resumedAt < 86_400_000) until = Math.floor(t / 3_600_000 + 1) * 3_600_000;
    else until = Math.floor(t / 86_400_000 + 1) * 86_400_000;
    dailyLimit = limit ?? dailyLimit;
    if (dailyBlockedUntil < until) {
      opts.logger.warn({ code: DAILY_LIMIT, daily: dailyLimit, until: new Date(until).toISOString() }, 'hubspot: daily API limit used up; no call until it resets');
    }
    dailyBlockedUntil = Math.max(dailyBlockedUntil, until);
  };
  /** one call a day (while the daily headers come): when the daily limit resets */
  const learnReset = async (signal: AbortSignal) => {
    learning = true;
    usageWanted = false;
    try {
      const { body } = await api.request({ method: 'GET', path: '/account-info/v3/api-usage/daily/private-apps', schema: DailyUsage, signal });
      const daily = body.results.find((r) => r.name === 'private-apps-api-calls-daily') ?? body.results[0];
      const at = daily === undefined ? Number.NaN : Date.parse(daily.resetsAt);
      if (Number.isFinite(at) && at > now()) resetsAt = at;
      usageNextAt = resetsAt ?? now() + 3_600_000;
    } catch (e) {
      if (!(e instanceof CrmError)) throw e;
      // not fatal: the pause falls back to UTC midnight and hourly probes
      opts.logger.debug({ kind: e.kind, code: e.details.code }, 'hubspot: could not read when the daily limit resets');
      usageNextAt = now() + 3_600_000;
    } finally {
      learning = false;
      // the usage call's own reply carried the daily headers too
      usageWanted = false;
    }
  };
  const clientFor = (token: string): Client => {
    if (client?.token !== token) {
      client = { token, client: new Client({ accessToken: token, basePath: opts.basePath.replace(/\/+$/, ''), numberOfApiCallRetries: 0 }) };
    }
    return client.client;
  };

  async function once<T>(req: HubspotRequest<T>, token: string): Promise<{ status: number; body: T }> {
    const path = req.query !== undefined && req.query.length > 0 ? `${req.path}?${new URLSearchParams(req.query).toString()}` : req.path;
    const c = clientFor(token);
    const what = req.label ?? `${req.method} ${req.path}`;
    if (dailyBlockedUntil > 0) {
      if (now() < dailyBlockedUntil) {
        throw new CrmError(
          'rate_limited',
          `${DAILY_LIMIT}: HubSpot's daily API limit${dailyLimit === null ? '' : ` (${dailyLimit} calls)`} is used up; Rapport resumes at ${new Date(dailyBlockedUntil).toISOString()} (not calling ${what})`,
          { crm: CRM, code: DAILY_LIMIT, policy: 'DAILY', retryAfterMs: dailyBlockedUntil - now() },
        );
      }
      opts.logger.info({ code: DAILY_LIMIT }, 'hubspot: a new day, the daily API limit is reset; resuming');
      dailyBlockedUntil = 0;
      resumedAt = now();
    }
    counters.calls++;
    const res = await deadline(
      c.apiRequest({ method: req.method, path, ...(req.body === undefined ? {} : { body: req.body }) }),
      opts.timeoutMs,
      req.signal,
      what,
    );
    observe(res.headers);
    const text = await deadline(res.text(), opts.timeoutMs, req.signal, `${what} (body)`);
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || text === '') {
        const parsed = req.schema.safeParse(undefined);
        if (parsed.success) return { status: res.status, body: parsed.data };
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new CrmError('bad_response', `HubSpot answered ${what} with ${res.status} but a body that is not JSON`, {
          crm: CRM,
          status: res.status,
        });
      }
      const parsed = req.schema.safeParse(json);
      if (!parsed.success) {
        const where = parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .join('; ');
        throw new CrmError('bad_response', `HubSpot's reply to ${what} does not match the expected shape (${where})`, {
          crm: CRM,
          status: res.status,
        });
      }
      return { status: res.status, body: parsed.data };
    }
    const error = errorFromResponse(res.status, text, res.headers, what);
    // a daily 429 without the daily headers (another integration spent the last call): the same pause
    if (isBudgetPause(error)) pauseForTheDay(res.headers.get('x-hubspot-ratelimit-daily'));
    throw error;
  }

  async function withAuth<T>(req: HubspotRequest<T>): Promise<{ status: number; body: T }> {
    const lane = req.lane ?? 'default';
    const attempt = async (token: string) => {
      try {
        return await opts.limiter.run(lane, () => once(req, token), req.signal);
      } catch (e) {
        if (e instanceof CrmError && e.kind === 'rate_limited') {
          // a refusal HubSpot sent counts; our own daily pause sent nothing
          if (e.details.status === 429) counters.rateLimited++;
          // hold the whole lane, not just this request: the window is shared (a daily pause is held by the caller instead)
          if (!isBudgetPause(e)) opts.limiter.holdOff(lane, Math.min(opts.retry.maxMs, e.details.retryAfterMs ?? 1_000));
        }
        throw e;
      }
    };
    const token = await opts.accessToken();
    try {
      return await attempt(token);
    } catch (e) {
      // one refresh per request on a 401 (expired OAuth token, https://developers.hubspot.com/docs/api/oauth-quickstart-guide), then give up
      if (e instanceof CrmError && e.kind === 'auth' && opts.onUnauthorized !== undefined) {
        const fresh = await opts.onUnauthorized();
        if (fresh !== null && fresh !== token) return attempt(fresh);
      }
      throw e;
    }
  }

  const api: HubspotHttp = {
    async request<T>(req: HubspotRequest<T>) {
      const res = await send(req);
      if (usageWanted && !learning) await learnReset(req.signal);
      return res;
    },
    stats: () => ({ ...counters }),
  };
  return api;

  async function send<T>(req: HubspotRequest<T>): Promise<{ status: number; body: T }> {
    try {
      return await withRetry(() => withAuth(req), {
        ...opts.retry,
        signal: req.signal,
        onRetry: ({ attempt, waitMs, error }) => {
          counters.retries++;
          opts.logger.debug(
            { request: req.label ?? `${req.method} ${req.path}`, attempt, waitMs, kind: error.kind, status: error.details.status, correlationId: error.details.correlationId },
            'hubspot retry',
          );
        },
      });
    } catch (e) {
      // HubSpot support asks for the correlation id of a failed call (https://developers.hubspot.com/docs/api/usage-details): log it with every failure
      if (e instanceof CrmError) {
        opts.logger.warn(
          { request: req.label ?? `${req.method} ${req.path}`, kind: e.kind, status: e.details.status, code: e.details.code, correlationId: e.details.correlationId },
          'hubspot request failed',
        );
      }
      throw e;
    }
  }
}

/** Maps a non-2xx reply to a CrmError kind (ARCHITECTURE §4; bodies per https://developers.hubspot.com/docs/api/usage-details and https://developers.hubspot.com/docs/api-reference/error-handling). */
export function errorFromResponse(status: number, text: string, headers: Headers, what: string): CrmError {
  let body: ErrorBody = {};
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) body = parsed.data;
  } catch {
    // a non-JSON error body still has a status to go by
  }
  const code = body.category ?? body.errorType ?? undefined;
  const correlationId = headers.get('x-hubspot-correlation-id') ?? body.correlationId ?? undefined;
  const message = `HubSpot ${what} → ${status}${code === undefined ? '' : ` ${code}`}: ${body.message ?? text.slice(0, 200)}${correlationId === undefined ? '' : ` (correlation id ${correlationId})`}`;
  const ids = body.context?.ids;
  const details = {
    crm: CRM,
    status,
    ...(code === undefined ? {} : { code }),
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(ids === undefined ? {} : { ids }),
  };
  if (status === 401) return new CrmError('auth', message, details);
  if (status === 403) {
    const scopes = body.errors?.flatMap((e) => e.context?.requiredScopes ?? e.context?.requiredGranularScopes ?? []) ?? [];
    const suffix = scopes.length > 0 ? ` (required scopes: ${scopes.join(', ')})` : '';
    return new CrmError('forbidden', message + suffix, details);
  }
  if (status === 429) {
    const retryAfter = headers.get('retry-after');
    const fromHeader = retryAfter !== null && /^\d+(\.\d+)?$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : undefined;
    const policy = body.policyName;
    const retryAfterMs = fromHeader ?? (policy === undefined ? undefined : POLICY_WAIT_MS[policy]);
    return new CrmError('rate_limited', message, {
      ...details,
      ...(policy === undefined ? {} : { policy }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  // 501 = not implemented (the sandbox's answer to anything it does not emulate): retrying cannot help
  if (status === 501) return new CrmError('invalid_request', message, details);
  if (status >= 500 || status === 423) return new CrmError('unavailable', message, details);
  return new CrmError('invalid_request', message, details);
}

/**
 * Races a promise against a timeout and the abort signal. The client's `apiRequest` takes no
 * signal, so on timeout the request is abandoned (not cancelled) and reported as `unavailable`.
 */
async function deadline<T>(p: Promise<T>, ms: number, signal: AbortSignal, what: string): Promise<T> {
  signal.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CrmError('unavailable', `HubSpot ${what} timed out after ${ms} ms`, { crm: CRM, code: 'timeout' })), ms);
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([
      p.catch((e: unknown) => {
        if (e instanceof CrmError) throw e;
        // fetch rejects with TypeError('fetch failed') + cause (ECONNREFUSED, ECONNRESET, DNS …)
        const cause = (e as { cause?: { code?: string } }).cause?.code;
        throw new CrmError('unavailable', `HubSpot ${what} failed: ${cause ?? (e as Error).message}`, {
          crm: CRM,
          code: cause ?? 'network',
        }, { cause: e });
      }),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    guard.catch(() => {});
  }
}
