/**
 * Remembers signed requests (their replay keys) seen within their validity window, so a captured
 * signed request cannot be sent again while its timestamp is still accepted (the window is the
 * CRM's: its provider's card request auth says how long a signature is valid).
 * In memory: after a restart a request could be replayed once until its window ends, which the
 * per-contact rescore limit (rescores.ts) bounds. Only signed requests reach it, so its size is
 * bounded by the CRM's traffic; `maxEntries` caps it anyway (oldest forgotten first).
 */
export type ReplayGuard = {
  /** true the first time a signature is seen within `windowMs`; false for a replay */
  firstSeen(signature: string): boolean;
};

export function createReplayGuard(o: { windowMs: number; now: () => number; maxEntries?: number }): ReplayGuard {
  const maxEntries = o.maxEntries ?? 100_000;
  /** signature → when it stops mattering; insertion order ≈ time order */
  const seen = new Map<string, number>();
  return {
    firstSeen(signature) {
      const now = o.now();
      for (const [sig, until] of seen) {
        if (until > now) break;
        seen.delete(sig);
      }
      const until = seen.get(signature);
      if (until !== undefined && until > now) return false;
      while (seen.size >= maxEntries) seen.delete(seen.keys().next().value as string);
      // twice the window: a signature is accepted while its timestamp is within ±window of now
      seen.set(signature, now + 2 * o.windowMs);
      return true;
    },
  };
}
