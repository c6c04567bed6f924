import { describe, expect, it } from 'vitest';
import {
  bgNbdConditionalExpected,
  bgNbdExpectedPurchases,
  bgNbdLogLikelihood,
  bgNbdPAlive,
  bgNbdProbabilityOfPurchases,
  bgNbdTotalLogLikelihood,
  expectedPurchases,
  fitBgNbd,
  pAlive,
  probNoPurchases,
  type BgNbdParams,
} from '../../../src/stats/bg-nbd.ts';
import { createRandom } from '../../../src/stats/random.ts';
import { logBeta, logGamma } from '../../../src/stats/special.ts';
import { loadCdnowSummary, loadCdnowTransactions } from '../../support/reference-data.ts';

// References: shared/data/cdnow/README.md (CLVTools test_correctness_bgnbd.R, lifetimes
// tests/test_estimation.py, pymc-marketing test_beta_geo.py, FHL 2005).
const CLVTOOLS = { r: 0.2425945, alpha: 4.4136019, a: 0.7929199, b: 2.4258881 };
const PUBLISHED: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const CUSTOMER_1 = { x: 2, tx: 30.43, T: 38.86 };

const relative = (actual: number, expected: number): number => Math.abs(actual - expected) / Math.abs(expected);

describe('fitBgNbd on the CDNOW calibration summary', () => {
  const customers = loadCdnowSummary();
  const fit = fitBgNbd(customers);

  it('has the 2,357 customers the references used', () => {
    expect(customers).toHaveLength(2357);
    expect(customers.filter((c) => c.x === 0)).toHaveLength(1411);
    expect(customers.reduce((s, c) => s + c.x, 0)).toBe(2457);
  });

  it('recovers r, α, a, b within 0.1 % of CLVTools and the log-likelihood −9582.43', () => {
    expect(fit.converged).toBe(true);
    expect(relative(fit.r, CLVTOOLS.r)).toBeLessThan(1e-3);
    expect(relative(fit.alpha, CLVTOOLS.alpha)).toBeLessThan(1e-3);
    expect(relative(fit.a, CLVTOOLS.a)).toBeLessThan(1e-3);
    expect(relative(fit.b, CLVTOOLS.b)).toBeLessThan(1e-3);
    expect(Math.abs(fit.logLikelihood - -9582.43)).toBeLessThan(0.01);
    expect(fit.logLikelihood).toBeCloseTo(bgNbdTotalLogLikelihood(fit, customers), 9);
    // lifetimes' tolerance against the paper's rounded values
    for (const key of ['r', 'alpha', 'a', 'b'] as const) expect(Math.abs(fit[key] - PUBLISHED[key])).toBeLessThan(0.015);
  });

  it('is a maximum: nudging any parameter lowers the likelihood', () => {
    for (const key of ['r', 'alpha', 'a', 'b'] as const) {
      for (const factor of [0.99, 1.01]) {
        const nudged = { ...fit, [key]: fit[key] * factor };
        expect(bgNbdTotalLogLikelihood(nudged, customers)).toBeLessThan(fit.logLikelihood);
      }
    }
  });

  it('E[Y(39) | customer 1] = 1.226 (lifetimes, abs 0.001)', () => {
    expect(Math.abs(bgNbdConditionalExpected(fit, 39, CUSTOMER_1) - 1.226)).toBeLessThan(0.001);
    expect(expectedPurchases(fit, 39, 2, 30.43, 38.86)).toBe(bgNbdConditionalExpected(fit, 39, CUSTOMER_1));
  });

  it('E[X(t)] for a new customer matches lifetimes at t = 0.1429 … 78 (decimal=3)', () => {
    const expected: [number, number][] = [
      [0.1429, 0.0078],
      [1, 0.0532],
      [3, 0.1506],
      [31.8571, 1.0405],
      [32, 1.0437],
      [78, 1.8576],
    ];
    for (const [t, value] of expected) {
      expect(Math.abs(bgNbdExpectedPurchases(fit, t) - value)).toBeLessThan(1.5e-3);
      expect(expectedPurchases(fit, t)).toBe(bgNbdExpectedPurchases(fit, t));
    }
  });

  it('predicts the paper\'s holdout: corr 0.626, x = 0 group 0.225 vs 334/1411, week-78 cumulative 4,160.6 vs 4,339', () => {
    // Rebuild the calibration summary from the raw transactions (README: 0 mismatches) and count
    // each customer's purchase days in the 39-week holdout 1997-10-01 … 1998-06-30.
    const day = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
    const end = day('1997-09-30');
    const days = new Map<number, Set<number>>();
    for (const t of loadCdnowTransactions()) {
      const set = days.get(t.sampleId) ?? new Set<number>();
      set.add(day(t.date));
      days.set(t.sampleId, set);
    }
    let mismatches = 0;
    let cumulative = 0;
    const actual: number[] = [];
    const predicted: number[] = [];
    for (const c of customers) {
      const all = [...(days.get(c.id) ?? [])].sort((p, q) => p - q);
      const first = all[0] as number;
      const calibration = all.filter((d) => d <= end);
      const round2 = (v: number): number => Math.round(v * 100) / 100;
      const x = calibration.length - 1;
      const tx = round2(((calibration.at(-1) as number) - first) / 7);
      const T = round2((end - first) / 7);
      if (x !== c.x || Math.abs(tx - c.tx) > 1e-9 || Math.abs(T - c.T) > 1e-9) mismatches++;
      actual.push(all.length - calibration.length);
      predicted.push(expectedPurchases(fit, 39, c.x, c.tx, c.T));
      cumulative += bgNbdExpectedPurchases(fit, (end - first) / 7 + 39);
    }
    expect(mismatches).toBe(0);
    expect(actual.reduce((s, v) => s + v, 0)).toBe(1882);
    expect(Math.abs(pearson(actual, predicted) - 0.626)).toBeLessThan(0.005);
    const zero = customers.map((c, i) => i).filter((i) => customers[i]?.x === 0);
    expect(zero.reduce((s, i) => s + (actual[i] as number), 0)).toBe(334);
    expect(Math.abs(zero.reduce((s, i) => s + (predicted[i] as number), 0) / zero.length - 0.225)).toBeLessThan(0.001);
    expect(Math.abs(cumulative - 4160.6)).toBeLessThan(0.5);
  });
});

describe('BG/NBD quantities at fixed parameters', () => {
  it('P(X(t) = n) matches R BTYD via lifetimes', () => {
    expect(Math.abs(bgNbdProbabilityOfPurchases(PUBLISHED, 39, 0) - 0.5737864)).toBeLessThan(1e-6);
    expect(relative(bgNbdProbabilityOfPurchases(PUBLISHED, 2, 10), 1.07869e-7)).toBeLessThan(1e-4);
    const p30 = [
      0.0019995214, 0.001517023, 0.001163315, 0.0009003148, 0.0007023638, 0.0005517902, 0.0004361913, 0.0003467171,
      0.0002769613, 0.000222226,
    ];
    p30.forEach((value, i) => expect(Math.abs(bgNbdProbabilityOfPurchases(PUBLISHED, 30, 11 + i) - value)).toBeLessThan(1e-9));
  });

  it('P(X(t) = n) is a distribution with mean E[X(t)]', () => {
    let total = 0;
    let mean = 0;
    for (let n = 0; n < 400; n++) {
      const p = bgNbdProbabilityOfPurchases(PUBLISHED, 20, n);
      total += p;
      mean += n * p;
    }
    expect(total).toBeCloseTo(1, 8);
    expect(mean).toBeCloseTo(bgNbdExpectedPurchases(PUBLISHED, 20), 6);
  });

  it('probNoPurchases: new-customer P(X(39) = 0) = 0.5737864, and the conditional form', () => {
    expect(Math.abs(probNoPurchases(PUBLISHED, 39) - 0.5737864)).toBeLessThan(1e-6);
    expect(probNoPurchases(PUBLISHED, 39)).toBeCloseTo(bgNbdProbabilityOfPurchases(PUBLISHED, 39, 0), 12);
    // Conditional: dead customers never buy, alive ones are quiet with the posterior NB zero term.
    const alive = pAlive(PUBLISHED, 2, 30.43, 38.86);
    const quiet = ((4.414 + 38.86) / (4.414 + 38.86 + 39)) ** (0.243 + 2);
    expect(probNoPurchases(PUBLISHED, 39, 2, 30.43, 38.86)).toBeCloseTo(1 - alive + alive * quiet, 12);
    expect(probNoPurchases(PUBLISHED, 0, 2, 30.43, 38.86)).toBe(1);
    // A long-quiet customer is more likely to stay quiet than a recent one.
    expect(probNoPurchases(PUBLISHED, 39, 2, 5, 38.86)).toBeGreaterThan(probNoPurchases(PUBLISHED, 39, 2, 38, 38.86));
  });

  it('P(alive | x = 0) = 1 exactly (a BG/NBD property) and the README per-customer values', () => {
    for (const c of loadCdnowSummary().filter((c) => c.x === 0)) expect(bgNbdPAlive(PUBLISHED, c)).toBe(1);
    const rows: [number, number, number, number, number, number][] = [
      [2, 30.43, 38.86, -9.458606, 0.726579, 1.226028],
      [1, 1.71, 38.86, -4.469093, 0.212101, 0.203187],
      [0, 0, 38.86, -0.554713, 1, 0.195098],
      [7, 29.43, 38.86, -21.863276, 0.641756, 3.337053],
    ];
    for (const [x, tx, T, ll, alive, ey] of rows) {
      expect(bgNbdLogLikelihood(PUBLISHED, { x, tx, T })).toBeCloseTo(ll, 6);
      expect(pAlive(PUBLISHED, x, tx, T)).toBeCloseTo(alive, 6);
      expect(expectedPurchases(PUBLISHED, 39, x, tx, T)).toBeCloseTo(ey, 6);
    }
    expect(bgNbdTotalLogLikelihood(PUBLISHED, loadCdnowSummary())).toBeCloseTo(-9582.4268, 3);
  });

  it('log-likelihood is numerically stable for large x (pymc-marketing test_numerically_stable_logp)', () => {
    const params = { r: 0.25, alpha: 4, a: 0.8, b: 2.5 };
    expect(Math.abs(bgNbdLogLikelihood(params, { x: 0, tx: 0, T: 40 }) - -0.59947382)).toBeLessThan(1.5e-5);
    expect(Math.abs(bgNbdLogLikelihood(params, { x: 200, tx: 38, T: 40 }) - 100.7957)).toBeLessThan(1.5e-5);
    const big = expectedPurchases(params, 39, 2000, 39.9, 40);
    expect(Number.isFinite(big) && big > 1000).toBe(true);
    expect(pAlive(params, 2000, 1, 40)).toBe(0);
  });

  it('the Euler-transformed expectation equals the paper\'s direct ₂F₁ formula, for a < 1 and a > 1', () => {
    for (const params of [PUBLISHED, { r: 0.5, alpha: 6, a: 1.7, b: 3.1 }, { r: 2, alpha: 10, a: 3, b: 0.6 }]) {
      for (const [t, x, tx, T] of [
        [39, 2, 30.43, 38.86],
        [10, 0, 0, 5],
        [52, 5, 12, 20],
        [4, 12, 30, 31],
        [100, 1, 0.5, 1],
      ] as const) {
        const { r, alpha, a, b } = params;
        const z = t / (alpha + T + t);
        const direct =
          ((a + b + x - 1) / (a - 1)) *
          (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * naiveHyp2f1(r + x, b + x, a + b + x - 1, z)) *
          pAlive(params, x, tx, T);
        expect(relative(expectedPurchases(params, t, x, tx, T), direct)).toBeLessThan(1e-9);
      }
    }
  });

  it('stays finite and exact for extreme a and b (a fit running off to "no dropout") and for large x', () => {
    for (const [a, b] of [
      [10_000, 100_000],
      [100_000, 2],
      [3, 1_000_000],
      [1e7, 1e8],
    ] as const) {
      const params = { r: 0.5, alpha: 5, a, b };
      for (const [t, x, tx, T] of [
        [52, 3, 20, 40],
        [52, 0, 0, 100],
        [4, 40, 30, 31],
      ] as const) {
        const z = t / (5 + T + t);
        const direct =
          ((a + b + x - 1) / (a - 1)) *
          (1 - ((5 + T) / (5 + T + t)) ** (0.5 + x) * naiveHyp2f1(0.5 + x, b + x, a + b + x - 1, z)) *
          pAlive(params, x, tx, T);
        expect(relative(expectedPurchases(params, t, x, tx, T), direct)).toBeLessThan(1e-8);
      }
    }
    // Large x with a > 2 and a < 1: both forms must stay finite (the direct series would overflow).
    for (const a of [0.5, 1, 3, 50]) {
      const value = expectedPurchases({ r: 0.5, alpha: 5, a, b: 2 }, 52, 3000, 99, 100);
      expect(Number.isFinite(value) && value > 0).toBe(true);
    }
  });

  it('is continuous through the a = 1 singularity of the direct formula', () => {
    const at = (a: number): number => expectedPurchases({ ...PUBLISHED, a }, 39, 2, 30.43, 38.86);
    const exact = at(1);
    expect(Number.isFinite(exact)).toBe(true);
    expect(Math.abs(at(1 - 1e-7) - exact)).toBeLessThan(1e-6);
    expect(Math.abs(at(1 + 1e-7) - exact)).toBeLessThan(1e-6);
  });

  it('the likelihood matches the paper\'s product form where that form does not overflow', () => {
    const { r, alpha, a, b } = PUBLISHED;
    for (const [x, tx, T] of [
      [0, 0, 30],
      [3, 20, 35],
      [10, 33, 38],
    ] as const) {
      const A = Math.exp(logGamma(r + x) - logGamma(r)) * alpha ** r;
      const first = Math.exp(logBeta(a, b + x) - logBeta(a, b)) * (A / (alpha + T) ** (r + x));
      const second = x > 0 ? Math.exp(logBeta(a + 1, b + x - 1) - logBeta(a, b)) * (A / (alpha + tx) ** (r + x)) : 0;
      expect(bgNbdLogLikelihood(PUBLISHED, { x, tx, T })).toBeCloseTo(Math.log(first + second), 10);
    }
  });
});

describe('fitBgNbd on data simulated from the model (away from the CDNOW optimum)', () => {
  it('recovers the generating process: r and α within 10 %, E[X(26)] within 5 %, LL at least the truth\'s', () => {
    const truth = { r: 2, alpha: 30, a: 1.5, b: 8 };
    const data = simulateBgNbd(1, 3000, truth);
    const fit = fitBgNbd(data);
    expect(fit.converged).toBe(true);
    expect(relative(fit.r, truth.r)).toBeLessThan(0.1);
    expect(relative(fit.alpha, truth.alpha)).toBeLessThan(0.1);
    // a and b are weakly identified on their own; the quantities the scores use are not.
    expect(relative(bgNbdExpectedPurchases(fit, 26), bgNbdExpectedPurchases(truth, 26))).toBeLessThan(0.05);
    expect(fit.logLikelihood).toBeGreaterThanOrEqual(bgNbdTotalLogLikelihood(truth, data));
  });
});

describe('BG/NBD failure paths: clear errors, never NaN', () => {
  it('rejects bad data and bad parameters', () => {
    expect(() => fitBgNbd([])).toThrow(/at least one customer/);
    expect(() => fitBgNbd([{ x: 0, tx: 0, T: 10 }])).toThrow(/repeat purchase/);
    expect(() => fitBgNbd([{ x: 1, tx: 12, T: 10 }])).toThrow(/0 ≤ tx ≤ T/);
    expect(() => fitBgNbd([{ x: Number.NaN, tx: 0, T: 10 }])).toThrow(/x ≥ 0 and T > 0/);
    expect(() => fitBgNbd([{ x: 1, tx: 1, T: 10 }], { penalty: -1 })).toThrow(/penalty/);
    expect(() => pAlive({ ...PUBLISHED, a: 0 }, 1, 1, 2)).toThrow(/finite and positive/);
    expect(() => pAlive(PUBLISHED, 1, 3, 2)).toThrow(/0 ≤ tx ≤ T/);
    expect(() => pAlive(PUBLISHED, Number.NaN, 0, 2)).toThrow(/x ≥ 0/);
    expect(() => expectedPurchases(PUBLISHED, -1, 1, 1, 2)).toThrow(/horizon/);
    expect(() => expectedPurchases(PUBLISHED, Number.NaN)).toThrow(/horizon/);
    expect(() => probNoPurchases(PUBLISHED, Number.POSITIVE_INFINITY)).toThrow(/horizon/);
    expect(() => bgNbdProbabilityOfPurchases(PUBLISHED, 10, 1.5)).toThrow(/integer/);
    expect(() => expectedPurchases(PUBLISHED, 1e12, 0, 0, 0)).toThrow(/too long/);
  });

  it('a small sample with a penalty still gives finite, sensible parameters', () => {
    const few = loadCdnowSummary().slice(0, 60);
    const fit = fitBgNbd(few, { penalty: 0.01 });
    for (const v of [fit.r, fit.alpha, fit.a, fit.b, fit.logLikelihood]) expect(Number.isFinite(v)).toBe(true);
    const plain = fitBgNbd(few);
    expect(fit.logLikelihood).toBeLessThanOrEqual(plain.logLikelihood + 1e-6);
  });
});

// The BG/NBD story (FHL 2005 §2): λ ~ Gamma(r, α), p ~ Beta(a, b); Poisson purchases while
// alive, dropout with probability p after each repeat purchase; ages T uniform in [20, 50).
function simulateBgNbd(seed: number, n: number, params: BgNbdParams): { x: number; tx: number; T: number }[] {
  const random = createRandom(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const gamma = (shape: number): number => {
    // Marsaglia & Tsang (2000), with the shape < 1 boost.
    if (shape < 1) return gamma(shape + 1) * (1 - random()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const g = normal();
      const v = (1 + c * g) ** 3;
      if (v > 0 && Math.log(1 - random()) < 0.5 * g * g + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  return Array.from({ length: n }, () => {
    const lambda = gamma(params.r) / params.alpha;
    const ga = gamma(params.a);
    const dropout = ga / (ga + gamma(params.b));
    const T = 20 + 30 * random();
    let t = 0;
    let x = 0;
    let tx = 0;
    for (;;) {
      t += -Math.log(1 - random()) / lambda;
      if (t > T) break;
      x++;
      tx = t;
      if (random() < dropout) break;
    }
    return { x, tx, T };
  });
}

function naiveHyp2f1(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let n = 0; n < 100_000; n++) {
    term *= ((a + n) * (b + n)) / ((c + n) * (n + 1)) * z;
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return sum;
}

function pearson(a: readonly number[], b: readonly number[]): number {
  const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  a.forEach((x, i) => {
    const dx = x - ma;
    const dy = (b[i] as number) - mb;
    sab += dx * dy;
    saa += dx * dx;
    sbb += dy * dy;
  });
  return sab / Math.sqrt(saa * sbb);
}
