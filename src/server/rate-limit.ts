/**
 * A fixed-window counter per key: at most `limit` hits per `windowMs`. Memory is bounded: when
 * `maxKeys` keys are tracked, expired windows are dropped first, then the oldest.
 */
export type RateLimiter = {
  /** counts one hit; false when the key is over its limit in the current window */
  take(key: string): boolean;
};

export function createRateLimiter(o: { limit: number; windowMs: number; now: () => number; maxKeys?: number }): RateLimiter {
  const maxKeys = o.maxKeys ?? 10_000;
  const windows = new Map<string, { start: number; count: number }>();
  return {
    take(key) {
      const now = o.now();
      const w = windows.get(key);
      if (w !== undefined && now - w.start < o.windowMs) {
        w.count += 1;
        return w.count <= o.limit;
      }
      windows.delete(key);
      if (windows.size >= maxKeys) {
        for (const [k, v] of windows) if (now - v.start >= o.windowMs) windows.delete(k);
        // still full: forget the oldest window (Maps iterate in insertion order)
        while (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
      }
      windows.set(key, { start: now, count: 1 });
      return o.limit >= 1;
    },
  };
}
