/**
 * Seeded randomness for the synthetic account. Everything the generator draws goes through one
 * `Rng`, so a seed fixes the whole account.
 *
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator) is used instead of mulberry32:
 * a 1,000,000-contact account makes ~10⁹ draws, a sizeable share of mulberry32's 2³² period,
 * while sfc32 has a 128-bit state (period ≥ 2³² and ~2¹²⁷ on average) at the same speed.
 */

export type Rng = {
  /** uniform in [0, 1) with 32 bits of resolution */
  next(): number;
  /** standard normal N(0, 1) */
  normal(): number;
};

/** splitmix32 step: spreads a small integer seed over the 128-bit sfc32 state. */
function splitmix32(state: number): [next: number, value: number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [s, (z ^ (z >>> 16)) >>> 0];
}

export function createRng(seed: number): Rng {
  let s = Math.trunc(seed) | 0;
  let a: number, b: number, c: number, d: number;
  [s, a] = splitmix32(s);
  [s, b] = splitmix32(s);
  [s, c] = splitmix32(s);
  [, d] = splitmix32(s);
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // Warm-up: the first outputs of sfc32 still correlate with the seed.
  for (let i = 0; i < 12; i++) next();

  // Box–Muller produces normals in pairs; keep the second for the next call.
  let spare = Number.NaN;
  const normal = (): number => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = Number.NaN;
      return v;
    }
    let u = next();
    while (u === 0) u = next();
    const radius = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * next();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { next, normal };
}

/** Derives an independent seed for a sub-stream (e.g. the demo's live events) from a seed. */
export function deriveSeed(seed: number, stream: number): number {
  const [, value] = splitmix32((Math.trunc(seed) ^ Math.imul(stream + 1, 0x27d4eb2d)) | 0);
  return value | 0;
}

/** uniform in [lo, hi) */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}

/** uniform integer in [0, n) */
export function intBelow(rng: Rng, n: number): number {
  return Math.floor(rng.next() * n);
}

export function chance(rng: Rng, probability: number): boolean {
  return rng.next() < probability;
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng.next() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

/** Exponential waiting time with the given rate (mean 1/rate). */
export function exponential(rng: Rng, rate: number): number {
  return -Math.log(1 - rng.next()) / rate;
}

/** Normal with mean and standard deviation. */
export function gaussian(rng: Rng, mean: number, sd: number): number {
  return mean + sd * rng.normal();
}

/** exp(N(log median, sigma²)): durations and sizes with a long right tail. */
export function logNormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * rng.normal());
}

/**
 * Gamma(shape, rate) (mean shape/rate), Marsaglia & Tsang (2000). For shape < 1 it uses
 * Gamma(shape) = Gamma(shape + 1) · U^(1/shape), which BG/NBD needs (r ≈ 0.35, a ≈ 0.8).
 */
export function gamma(rng: Rng, shape: number, rate: number): number {
  if (!(shape > 0) || !(rate > 0)) throw new RangeError(`gamma(${shape}, ${rate})`);
  if (shape < 1) {
    let u = rng.next();
    while (u === 0) u = rng.next();
    return gamma(rng, shape + 1, rate) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return (d * v) / rate;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return (d * v) / rate;
  }
}

/** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function beta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a, 1);
  const y = gamma(rng, b, 1);
  const sum = x + y;
  // Both gammas can underflow to 0 for tiny shapes; fall back to the mean then.
  return sum > 0 ? x / sum : a / (a + b);
}

/**
 * Poisson(mean). Knuth's product method below 30 (cheap for the small means the generator
 * mostly asks for); Hörmann's PTRS transformed rejection above, which stays exact and O(1).
 */
export function poisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean < 30) {
    const limit = Math.exp(-mean);
    let k = 0;
    let product = rng.next();
    while (product > limit) {
      k++;
      product *= rng.next();
    }
    return k;
  }
  const logMean = Math.log(mean);
  const b = 0.931 + 2.53 * Math.sqrt(mean);
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    const lhs = Math.log(v * invAlpha / (a / (us * us) + b));
    const rhs = -mean + k * logMean - logFactorial(k);
    if (lhs <= rhs) return k;
  }
}

const LOG_FACTORIALS: number[] = [0];
function logFactorial(k: number): number {
  if (k < 256) {
    for (let i = LOG_FACTORIALS.length; i <= k; i++) {
      LOG_FACTORIALS[i] = (LOG_FACTORIALS[i - 1] as number) + Math.log(i);
    }
    return LOG_FACTORIALS[k] as number;
  }
  // Stirling series; error < 1e-10 from k = 256.
  return (k + 0.5) * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * k) - 1 / (360 * k * k * k);
}

/** Sorted uniform times of a homogeneous Poisson process with `rate` per ms over [from, to). */
export function poissonTimes(rng: Rng, ratePerMs: number, from: number, to: number): number[] {
  if (!(to > from) || !(ratePerMs > 0)) return [];
  const n = poisson(rng, ratePerMs * (to - from));
  const times: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) times[i] = Math.round(from + (to - from) * rng.next());
  return n > 1 ? times.sort((x, y) => x - y) : times;
}
