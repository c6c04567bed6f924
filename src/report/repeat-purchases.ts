/**
 * BG/NBD goodness of fit (Fader, Hardie & Lee 2005, fig. 2, https://doi.org/10.1287/mksc.1040.0098): the number of
 * customers with 0, 1, …, 7+ repeat purchases, actual against expected. Expected is analytic,
 * not simulated: Σᵢ P(X(Tᵢ) = n | r, α, a, b), each customer observed for their own Tᵢ weeks
 * since their first purchase (bgNbdProbabilityOfPurchases, FHL eq. 8).
 */
import { bgNbdProbabilityOfPurchases, type BgNbdParams } from '../stats/bg-nbd.ts';
import type { ContactFeatures } from '../scoring/features.ts';
import { rfmSummary } from '../scoring/loyalty.ts';

export const MAX_BUCKET = 7;
export type RepeatBucket = { repeats: string; actual: number; expected: number };

export function repeatPurchaseFit(features: readonly ContactFeatures[], params: BgNbdParams): { buckets: RepeatBucket[]; customers: number } {
  const actual = new Array<number>(MAX_BUCKET + 1).fill(0);
  const expected = new Array<number>(MAX_BUCKET + 1).fill(0);
  let customers = 0;
  for (const f of features) {
    const s = f.exists ? rfmSummary(f) : null;
    if (s === null || !(s.T > 0)) continue;
    let head = 0;
    const probs: number[] = [];
    try {
      for (let n = 0; n < MAX_BUCKET; n++) {
        const p = bgNbdProbabilityOfPurchases(params, s.T, n);
        probs.push(Number.isFinite(p) ? p : 0);
        head += probs[n] as number;
      }
    } catch {
      continue; // a series that does not converge for this customer: leave them out of both sides
    }
    customers++;
    actual[Math.min(MAX_BUCKET, s.x)] = (actual[Math.min(MAX_BUCKET, s.x)] as number) + 1;
    probs.forEach((p, n) => {
      expected[n] = (expected[n] as number) + p;
    });
    expected[MAX_BUCKET] = (expected[MAX_BUCKET] as number) + Math.max(0, 1 - head);
  }
  return {
    customers,
    buckets: actual.map((a, n) => ({ repeats: n === MAX_BUCKET ? `${MAX_BUCKET}+` : String(n), actual: a, expected: expected[n] as number })),
  };
}
