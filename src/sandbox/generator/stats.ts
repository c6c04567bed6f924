/**
 * The few special functions the generator needs to tie BG/NBD's dropout probability to the
 * latent drivers (see customer.ts). Kept local, not imported from src/scoring: the truth must
 * not depend on the code it is used to judge.
 */

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

// Lanczos, g = 7, n = 9; relative error < 1e-15 for x ≥ 0.5.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
] as const;

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.9189385332046728 + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * Regularized incomplete beta I_x(a, b), i.e. the Beta(a, b) CDF, by Lentz's continued fraction
 * (Numerical Recipes §6.4), using the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) where it converges
 * faster. Absolute error ~1e-12, far below what a probit of it needs.
 */
export function betaCdf(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront =
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-13) break;
  }
  return h;
}

// Acklam's rational approximation of the normal quantile; relative error < 1.15e-9.
const A = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239] as const;
const B = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572] as const;
const C = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416] as const;

/** Φ⁻¹(p): the standard normal quantile, clamped to ±8.3 at p ∈ {0, 1}. */
export function normalQuantile(p: number): number {
  if (p <= 0) return -8.3;
  if (p >= 1) return 8.3;
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) /
      ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
    (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
}

/** Φ(x), the standard normal CDF, via erfc (Numerical Recipes §6.2 Chebyshev fit, |rel. error| < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/** Beta(a, b) quantile by bisection on `betaCdf` (exact to ~1e-15; slow: use `betaProbitTable` in loops). */
export function betaQuantile(u: number, a: number, b: number): number {
  if (u <= 0) return 0;
  if (u >= 1) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 80; i++) {
    const mid = 0.5 * (lo + hi);
    if (betaCdf(mid, a, b) < u) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

const PROBIT_Z_MAX = 6;
const PROBIT_STEPS = 2048;

/**
 * z ↦ F⁻¹_Beta(a,b)(Φ(z)) tabulated on [−6, 6] and interpolated linearly: maps a standard normal
 * onto an exact Beta(a, b) marginal (a Gaussian copula) at a few ns per draw instead of ~100 µs
 * for a bisection per customer. Beyond ±6 (probability 2e-9) the end values are used.
 */
export function betaProbitTable(a: number, b: number): (z: number) => number {
  const table = new Float64Array(PROBIT_STEPS + 1);
  const step = (2 * PROBIT_Z_MAX) / PROBIT_STEPS;
  for (let i = 0; i <= PROBIT_STEPS; i++) table[i] = betaQuantile(normalCdf(-PROBIT_Z_MAX + i * step), a, b);
  return (z: number): number => {
    const position = (z + PROBIT_Z_MAX) / step;
    if (position <= 0) return table[0] as number;
    if (position >= PROBIT_STEPS) return table[PROBIT_STEPS] as number;
    const i = Math.floor(position);
    const frac = position - i;
    return (table[i] as number) * (1 - frac) + (table[i + 1] as number) * frac;
  };
}
