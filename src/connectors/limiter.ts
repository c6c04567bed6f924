import PQueue from 'p-queue';
import { CrmError, DEFAULT_RETRY_POLICY, retryDecision } from '../errors.ts';

/**
 * The ONE place that decides when a request is sent and when it is retried (ARCHITECTURE §4).
 *
 * Lanes are p-queue instances in strict sliding-window mode: no more than `limit` requests start
 * in ANY `intervalMs` period. HubSpot's ten-secondly limit is a rolling window (https://developers.hubspot.com/docs/api/usage-details,
 * policy TEN_SECONDLY_ROLLING), so fixed windows would burst 2× at a boundary and earn 429s.
 * `marginMs` widens the window a little because the server counts arrivals, we count departures.
 */
export type LaneSpec = { limit: number; intervalMs: number; concurrency?: number; marginMs?: number };
export type LaneName = 'default' | 'search';
export type LimiterLanes = { default: LaneSpec; search?: LaneSpec };

export type LimiterStats = {
  /** requests started, per lane */
  started: Record<LaneName, number>;
  /** requests waiting for a slot right now */
  queued: number;
  /** times a lane was held back after the server said 429 */
  pushbacks: number;
};

export type Limiter = {
  run<T>(lane: LaneName, fn: () => Promise<T>, signal: AbortSignal): Promise<T>;
  /** The server pushed back (429): start nothing more on this lane for `ms`. */
  holdOff(lane: LaneName, ms: number): void;
  /**
   * The server told its real window (e.g. HubSpot's X-HubSpot-RateLimit-Max): requests from now
   * on go through a lane of this size, which starts after one window, so what the old lane sent
   * has left the server's window first. Configure the right limit to avoid the pause.
   */
  setLane(lane: LaneName, spec: LaneSpec): void;
  lane(lane: LaneName): LaneSpec;
  stats(): LimiterStats;
};

const DEFAULT_MARGIN_MS = 100;

export function createLimiter(lanes: LimiterLanes): Limiter {
  const defaultQueue = makeQueue(lanes.default);
  // no search lane configured: search shares the default budget
  const queues: Record<LaneName, PQueue> = {
    default: defaultQueue,
    search: lanes.search === undefined ? defaultQueue : makeQueue(lanes.search),
  };
  const started: Record<LaneName, number> = { default: 0, search: 0 };
  const specs: Record<LaneName, LaneSpec> = { default: lanes.default, search: lanes.search ?? lanes.default };
  const resumeAt: Record<LaneName, number> = { default: 0, search: 0 };
  let pushbacks = 0;

  return {
    async run<T>(lane: LaneName, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
      signal.throwIfAborted();
      const queue = queues[lane];
      return queue.add(
        async () => {
          started[lane]++;
          return fn();
        },
        { signal },
      );
    },
    holdOff(lane, ms) {
      if (ms <= 0) return;
      pushbacks++;
      const queue = queues[lane];
      const until = Date.now() + ms;
      if (until <= resumeAt[lane]) return;
      resumeAt[lane] = until;
      queue.pause();
      setTimeout(() => {
        if (Date.now() >= resumeAt[lane] - 1) queue.start();
      }, ms).unref();
    },
    setLane(lane, spec) {
      const old = specs[lane];
      if (old.limit === spec.limit && old.intervalMs === spec.intervalMs) return;
      const next = makeQueue({ ...old, ...spec });
      // What the old lane started is still in the server's window, and a fresh lane would add a
      // full window on top: the new lane starts after one window (a one-off pause, not a 429).
      next.pause();
      setTimeout(() => next.start(), spec.intervalMs).unref();
      const shared = queues.search === queues.default;
      queues[lane] = next;
      specs[lane] = { ...old, ...spec };
      if (shared && lane === 'default') {
        queues.search = next;
        specs.search = specs.default;
      }
    },
    lane: (lane) => ({ ...specs[lane] }),
    stats() {
      const queued = queues.default.size + (queues.search === queues.default ? 0 : queues.search.size);
      return { started: { ...started }, queued, pushbacks };
    },
  };
}

function makeQueue(spec: LaneSpec): PQueue {
  if (!(spec.limit >= 1) || !(spec.intervalMs > 0)) {
    throw new RangeError(`a limiter lane needs limit ≥ 1 and intervalMs > 0, got ${spec.limit}/${spec.intervalMs}`);
  }
  return new PQueue({
    concurrency: spec.concurrency ?? 4,
    intervalCap: spec.limit,
    interval: spec.intervalMs + (spec.marginMs ?? DEFAULT_MARGIN_MS),
    strict: true,
  });
}

export type RetryOptions = {
  /** extra attempts after the first (so `retries: 3` means up to 4 calls) */
  retries?: number;
  /** first backoff for 5xx / timeouts; doubles each attempt */
  baseMs?: number;
  /** cap on any single wait, including rate-limit waits */
  maxMs?: number;
  signal: AbortSignal;
  onRetry?: (info: { attempt: number; waitMs: number; error: CrmError }) => void;
  /** injectable randomness for jitter (tests) */
  random?: () => number;
};

/**
 * Retries `fn` while `retryDecision` (src/errors.ts, the one decision) says retry: 429s wait what
 * the error says, 5xx/timeouts back off with jitter; anything else — auth, forbidden, a daily
 * budget, invalid_request, bad_response — is thrown at once: retrying a 4xx never helps.
 * When retries run out the last CrmError is thrown unchanged, so a 429 surfaces as `rate_limited`.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = {
    retries: opts.retries ?? DEFAULT_RETRY_POLICY.retries,
    baseMs: opts.baseMs ?? DEFAULT_RETRY_POLICY.baseMs,
    maxMs: opts.maxMs ?? DEFAULT_RETRY_POLICY.maxMs,
    random: opts.random ?? DEFAULT_RETRY_POLICY.random,
  };
  for (let attempt = 0; ; attempt++) {
    opts.signal.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof CrmError)) throw e;
      if (opts.signal.aborted) throw opts.signal.reason;
      const decision = retryDecision(e, attempt, policy);
      if (decision.action !== 'retry') throw e;
      opts.onRetry?.({ attempt: attempt + 1, waitMs: decision.waitMs, error: e });
      await sleep(decision.waitMs, opts.signal);
    }
  }
}

/** An abortable sleep: rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
