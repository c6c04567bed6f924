import type { Clock } from './clock.ts';
import type { SandboxLimits } from './types.ts';

/**
 * HubSpot's per-account limits as strict sliding windows (hubspot.md §2.1): the default lane
 * (110 requests / rolling 10 s for OAuth apps) and the search lane (5 / s, not counted in the
 * ten-secondly window). Only accepted requests occupy the window. Times come from the sandbox
 * clock, so tests can empty a window by advancing it.
 */
export type Lane = 'default' | 'search';

export type LimitDecision =
  | { ok: true; max: number; remaining: number; intervalMs: number }
  | { ok: false; policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY'; max: number; intervalMs: number };

export type RateLimiter = {
  check(hubId: number, lane: Lane): LimitDecision | undefined;
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
    check(hubId, lane) {
      if (limits === false) return undefined;
      const intervalMs = lane === 'search' ? 1_000 : 10_000;
      const max = lane === 'search' ? limits.searchPerSecond : limits.per10s;
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
