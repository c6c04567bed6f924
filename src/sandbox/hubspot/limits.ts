import type { Clock } from './clock.ts';
import type { SandboxLimits } from './types.ts';

/**
 * HubSpot's per-account limits as strict sliding windows (https://developers.hubspot.com/docs/api/usage-details): the default lane
 * (110 requests / rolling 10 s for OAuth apps) and the search lane (5 / s, not counted in the
 * ten-secondly window). Only accepted requests occupy the window. Times come from the sandbox
 * clock, so tests can empty a window by advancing it.
 */
export type Lane = 'default' | 'search';

export type LimitDecision =
  | { ok: true; max: number; remaining: number; intervalMs: number }
  | { ok: false; policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY'; max: number; intervalMs: number };

export type RateLimiter = {
  /** `per10s` overrides the configured ten-secondly limit (an account tier, a private app) */
  check(hubId: number, lane: Lane, per10s?: number): LimitDecision | undefined;
  set(limits: SandboxLimits | false): void;
  current(): SandboxLimits | false;
};

export const DEFAULT_LIMITS: SandboxLimits = { per10s: 110, searchPerSecond: 5 };

export function createRateLimiter(clock: Clock, initial: SandboxLimits | false): RateLimiter {
  let limits = initial;
  const windows = new Map<string, number[]>();

  return {
    set(l) {
      limits = l;
      windows.clear();
    },
    current: () => limits,
    /** undefined when limits are off */
    check(hubId, lane, per10s) {
      if (limits === false) return undefined;
      const intervalMs = lane === 'search' ? 1_000 : 10_000;
      const max = lane === 'search' ? limits.searchPerSecond : (per10s ?? limits.per10s);
      const key = `${hubId}:${lane}`;
      let stamps = windows.get(key);
      if (stamps === undefined) windows.set(key, (stamps = []));
      const now = clock.now();
      // drop stamps that left the window (kept sorted: the clock never runs backwards here)
      let drop = 0;
      while (drop < stamps.length && (stamps[drop] as number) <= now - intervalMs) drop++;
      if (drop > 0) stamps.splice(0, drop);
      if (stamps.length >= max) {
        return { ok: false, policy: lane === 'search' ? 'SECONDLY' : 'TEN_SECONDLY_ROLLING', max, intervalMs };
      }
      stamps.push(now);
      return { ok: true, max, remaining: max - stamps.length, intervalMs };
    },
  };
}

/**
 * HubSpot's limits by product tier (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details,
 * https://developers.hubspot.com/docs/api/usage-details): private apps 100 / 10 s on Free and Starter, 190 on Professional and
 * Enterprise, with a daily limit per account; OAuth apps 110 / 10 s per account and no daily limit.
 */
export type Tier = 'starter' | 'pro' | 'enterprise' | 'oauth';
export const TIERS: Record<Tier, { privatePer10s: number; daily: number | undefined }> = {
  starter: { privatePer10s: 100, daily: 250_000 },
  pro: { privatePer10s: 190, daily: 625_000 },
  enterprise: { privatePer10s: 190, daily: 1_000_000 },
  oauth: { privatePer10s: 110, daily: undefined },
};
export const OAUTH_PER_10S = 110;

/**
 * The sandbox accounts' time zone: US/Eastern as account info reports it (`utcOffset` -05:00,
 * index.ts), without daylight saving. HubSpot resets the daily limit at the account's midnight
 * (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details; the usage API's
 * `resetsAt` is 04:00Z for an account on Eastern daylight time,
 * https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-usage-details),
 * not at UTC midnight.
 */
export const ACCOUNT_UTC_OFFSET_MS = -5 * 3_600_000;

/** Daily request counts per account, by the account's days (its midnight, ACCOUNT_UTC_OFFSET_MS) on the sandbox clock. */
export function createDailyCounter(clock: Clock) {
  const counts = new Map<number, { day: number; n: number }>();
  const today = () => Math.floor((clock.now() + ACCOUNT_UTC_OFFSET_MS) / 86_400_000);
  const entry = (hubId: number) => {
    const day = today();
    let c = counts.get(hubId);
    if (c === undefined || c.day !== day) counts.set(hubId, (c = { day, n: 0 }));
    return c;
  };
  return {
    /** counts one request; returns how many remain today, or -1 when the limit was already reached */
    take(hubId: number, daily: number): number {
      const c = entry(hubId);
      if (c.n >= daily) return -1;
      c.n++;
      return daily - c.n;
    },
    /** `n` calls made today by the account's other private apps: the daily limit is per account, shared by all of them (https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details) */
    use(hubId: number, n: number): void {
      entry(hubId).n += n;
    },
    /** calls counted today */
    used: (hubId: number): number => entry(hubId).n,
    /** the account's next midnight, epoch ms */
    resetsAt: (): number => (today() + 1) * 86_400_000 - ACCOUNT_UTC_OFFSET_MS,
  };
}
