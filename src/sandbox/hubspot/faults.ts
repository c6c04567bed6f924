import type { Random } from '../../stats/random.ts';
import type { FaultRates } from './types.ts';

/**
 * Seeded fault injection: each API request draws once and gets at most one fault. The order of
 * the kinds is fixed so one seed replays the same sequence.
 */
export type FaultKind = '429' | '500' | 'timeout' | 'malformed';
const KINDS: readonly FaultKind[] = ['429', '500', 'timeout', 'malformed'];

export type FaultInjector = { draw(): FaultKind | undefined; set(rates: FaultRates): void; rates(): FaultRates };

export function validateFaultRates(rates: FaultRates): FaultRates {
  let total = 0;
  for (const kind of KINDS) {
    const p = rates[kind];
    if (p === undefined) continue;
    if (!Number.isFinite(p) || p < 0 || p > 1) throw new RangeError(`fault rate ${kind} must be a probability in [0, 1], got ${p}`);
    total += p;
  }
  if (total > 1) throw new RangeError(`fault rates add up to ${total}; they must not exceed 1`);
  return { ...rates };
}

export function createFaultInjector(random: Random, initial: FaultRates = {}): FaultInjector {
  let rates = validateFaultRates(initial);
  return {
    set(next) {
      rates = validateFaultRates(next);
    },
    rates: () => ({ ...rates }),
    draw() {
      if (KINDS.every((k) => !rates[k])) return undefined;
      const u = random();
      let acc = 0;
      for (const kind of KINDS) {
        acc += rates[kind] ?? 0;
        if (u < acc) return kind;
      }
      return undefined;
    },
  };
}
