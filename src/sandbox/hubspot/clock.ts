/**
 * The sandbox's notion of "now". Record timestamps, token expiry and rate-limit windows all read
 * it, so tests can expire a token or empty a rate window without waiting.
 */
export type Clock = {
  /** epoch milliseconds */
  now(): number;
  /** moves time forward by `ms` (negative values are refused) */
  advance(ms: number): void;
  /** jumps to `ms`; a frozen clock stays there, a running clock keeps ticking from there */
  set(ms: number): void;
};

/**
 * `frozenAt` gives a clock that only moves when told to; without it the clock follows real time
 * plus whatever offset `advance`/`set` added.
 */
export function createClock(options: { frozenAt?: number } = {}): Clock {
  let frozen = options.frozenAt;
  let offset = 0;
  return {
    now: () => (frozen ?? Date.now() + offset),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock.advance needs a non-negative number of ms, got ${ms}`);
      if (frozen !== undefined) frozen += ms;
      else offset += ms;
    },
    set(ms) {
      if (!Number.isFinite(ms)) throw new RangeError(`clock.set needs epoch milliseconds, got ${ms}`);
      if (frozen !== undefined) frozen = ms;
      else offset = ms - Date.now();
    },
  };
}

/** The sandbox clock's name (ARCHITECTURE.md §7: a controllable clock). */
export type SandboxClock = Clock;
