import PQueue from 'p-queue';
import { CrmError, DEFAULT_RETRY_POLICY, retryDecision } from '../errors.ts';

/**
 * The ONE place that decides when a request is sent and when it is retried (ARCHITECTURE §4).
 *
 * Each lane is a rolling window: no more than `limit` requests in ANY `intervalMs` period, as
 * HubSpot counts them (https://developers.hubspot.com/docs/api/usage-details, policy
 * TEN_SECONDLY_ROLLING), so fixed windows, which burst 2× at a boundary, would earn 429s.
 * The server counts a request when it arrives, which we cannot see: a request holds its place
 * from the moment we send it until `intervalMs` after its answer (or failure), by which time it
 * has surely left the server's window too. Counting from the send instead, with a margin of
 * 100 ms, earned 429s whenever a request took longer than the margin to arrive: bench:scale's
 * 20 busy portals got 2–16 of them a run, each pausing its portal's lane for a second.
 * Waiting requests queue in a p-queue per lane (first come, first served; `concurrency` at once).
 */
export type LaneSpec = { limit: number; intervalMs: number; concurrency?: number };
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
   * on are held to it. The window keeps the requests already sent, so a smaller limit waits for
   * them to leave it and a larger one applies at once.
   */
  setLane(lane: LaneName, spec: LaneSpec): void;
  lane(lane: LaneName): LaneSpec;
  stats(): LimiterStats;
};

/** One lane: its queue and the requests its window holds. */
type Lane = {
  spec: LaneSpec;
  queue: PQueue;
  /** requests sent and not answered yet */
  inFlight: number;
  /** when each answered request's place frees (its answer + intervalMs), ascending */
  frees: number[];
  /** no request starts before this (a 429's pause) */
  resumeAt: number;
  /** wakes requests waiting for an answer when every place is taken by one in flight */
  answered: Set<() => void>;
  /** requests taken off the queue that wait for a place */
  waiting: number;
};

export function createLimiter(lanes: LimiterLanes): Limiter {
  const makeLane = (spec: LaneSpec): Lane => {
    checkSpec(spec);
    return { spec, queue: new PQueue({ concurrency: spec.concurrency ?? 4 }), inFlight: 0, frees: [], resumeAt: 0, answered: new Set(), waiting: 0 };
  };
  const defaultLane = makeLane(lanes.default);
  // no search lane configured: search shares the default budget
  const byName: Record<LaneName, Lane> = { default: defaultLane, search: lanes.search === undefined ? defaultLane : makeLane(lanes.search) };
  const started: Record<LaneName, number> = { default: 0, search: 0 };
  let pushbacks = 0;

  /** Waits for a place in the lane's window and takes it. */
  async function enter(lane: Lane, signal: AbortSignal): Promise<void> {
    lane.waiting++;
    try {
      for (;;) {
        signal.throwIfAborted();
        const now = Date.now();
        let gone = 0;
        while (gone < lane.frees.length && lane.frees[gone]! <= now) gone++;
        if (gone > 0) lane.frees.splice(0, gone);
        if (now < lane.resumeAt) {
          await sleep(lane.resumeAt - now, signal);
        } else if (lane.inFlight + lane.frees.length < lane.spec.limit) {
          lane.inFlight++;
          return;
        } else if (lane.frees.length > 0) {
          await sleep(lane.frees[0]! - now, signal);
        } else {
          // every place is held by a request in flight: its answer starts its interval
          await new Promise<void>((resolve, reject) => {
            const wake = () => {
              signal.removeEventListener('abort', onAbort);
              resolve();
            };
            const onAbort = () => {
              lane.answered.delete(wake);
              reject(signal.reason);
            };
            lane.answered.add(wake);
            signal.addEventListener('abort', onAbort, { once: true });
          });
        }
      }
    } finally {
      lane.waiting--;
    }
  }
  function leave(lane: Lane): void {
    lane.inFlight--;
    const free = Date.now() + lane.spec.intervalMs;
    // answers come in any order, frees stay sorted (the same interval for all: a late answer frees late)
    let i = lane.frees.length;
    while (i > 0 && lane.frees[i - 1]! > free) i--;
    lane.frees.splice(i, 0, free);
    const woken = [...lane.answered];
    lane.answered.clear();
    for (const wake of woken) wake();
  }

  return {
    async run<T>(name: LaneName, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
      signal.throwIfAborted();
      const lane = byName[name];
      return lane.queue.add(
        async () => {
          await enter(lane, signal);
          started[name]++;
          try {
            return await fn();
          } finally {
            leave(lane);
          }
        },
        { signal },
      );
    },
    holdOff(name, ms) {
      if (ms <= 0) return;
      pushbacks++;
      const lane = byName[name];
      lane.resumeAt = Math.max(lane.resumeAt, Date.now() + ms);
    },
    setLane(name, spec) {
      const lane = byName[name];
      const next = { ...lane.spec, ...spec };
      checkSpec(next);
      if (next.concurrency !== lane.spec.concurrency) lane.queue.concurrency = next.concurrency ?? 4;
      // places freeing later than the new interval allows are brought forward (a shorter window)
      if (next.intervalMs < lane.spec.intervalMs) lane.frees = lane.frees.map((t) => t - (lane.spec.intervalMs - next.intervalMs));
      lane.spec = next;
    },
    lane: (name) => ({ ...byName[name].spec }),
    stats() {
      const lanes = byName.search === byName.default ? [byName.default] : [byName.default, byName.search];
      return { started: { ...started }, queued: lanes.reduce((n, l) => n + l.queue.size + l.waiting, 0), pushbacks };
    },
  };
}

function checkSpec(spec: LaneSpec): void {
  if (!(spec.limit >= 1) || !(spec.intervalMs > 0)) {
    throw new RangeError(`a limiter lane needs limit ≥ 1 and intervalMs > 0, got ${spec.limit}/${spec.intervalMs}`);
  }
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
