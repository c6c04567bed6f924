/**
 * Special functions the customer-base models need, as allocation-free scalar functions.
 * Written here (not pulled from @stdlib) because the scorers call them per contact on the
 * hot path and the needed subset is small.
 */

// Lanczos approximation, g = 7, n = 9 (the Numerical Recipes / Boost coefficient set);
// relative error below 1e-15 for x > 0.5, which is all the likelihoods ask for.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
] as const;
const HALF_LOG_TWO_PI = 0.9189385332046728;

/** log Γ(x) by the Lanczos (1964) approximation, for x > 0 (reflection handles 0 < x < 0.5); +Infinity at x ≤ 0 integers. */
export function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1−x) = π / sin(πx); only the magnitude is returned.
    const s = Math.sin(Math.PI * x);
    if (s === 0) return Number.POSITIVE_INFINITY;
    return Math.log(Math.PI / Math.abs(s)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** log B(a, b) = log Γ(a) + log Γ(b) − log Γ(a+b) (the Beta function's definition). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** log(e^a + e^b) without overflow; either argument may be −Infinity. */
export function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** log(1 + e^x) without overflow or loss of precision for large |x|. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The logistic function 1 / (1 + e^−x), exact at both tails. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
