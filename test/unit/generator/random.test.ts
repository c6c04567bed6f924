import { describe, expect, it } from 'vitest';
import { beta, createRng, gamma, poisson } from '../../../src/sandbox/generator/random.ts';
import { betaCdf, betaProbitTable, betaQuantile, normalCdf } from '../../../src/sandbox/generator/stats.ts';

const moments = (xs: number[]) => {
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  return { mean, variance: xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length };
};
const draws = (n: number, f: () => number) => Array.from({ length: n }, f);

describe('generator randomness', () => {
  it('is a deterministic stream per seed', () => {
    const a = createRng(1);
    const b = createRng(1);
    const c = createRng(2);
    const xs = draws(5, () => a.next());
    expect(draws(5, () => b.next())).toEqual(xs);
    expect(draws(5, () => c.next())).not.toEqual(xs);
  });

  it('draws Gamma (shape < 1 and > 1), Beta and Poisson with the right moments', () => {
    const rng = createRng(42);
    const g = moments(draws(40_000, () => gamma(rng, 0.35, 6)));
    expect(g.mean).toBeCloseTo(0.35 / 6, 2);
    expect(g.variance).toBeCloseTo(0.35 / 36, 2);
    const g2 = moments(draws(40_000, () => gamma(rng, 6, 2)));
    expect(g2.mean / 3).toBeCloseTo(1, 1);
    expect(g2.variance / 1.5).toBeCloseTo(1, 1);
    const bt = moments(draws(40_000, () => beta(rng, 0.8, 2.5)));
    expect(bt.mean).toBeCloseTo(0.8 / 3.3, 2);
    const small = moments(draws(40_000, () => poisson(rng, 2.5)));
    expect(small.mean / 2.5).toBeCloseTo(1, 1);
    const large = moments(draws(40_000, () => poisson(rng, 80)));
    expect(large.mean / 80).toBeCloseTo(1, 2);
    expect(large.variance / 80).toBeCloseTo(1, 1);
  });

  it('inverts the Beta CDF, and the probit table matches the exact quantile', () => {
    for (const u of [1e-6, 0.01, 0.3, 0.5, 0.9, 0.999]) expect(betaCdf(betaQuantile(u, 0.8, 2.5), 0.8, 2.5)).toBeCloseTo(u, 9);
    const table = betaProbitTable(0.8, 2.5);
    for (const z of [-3, -1.234, 0, 0.5, 2.2]) {
      expect(table(z)).toBeCloseTo(betaQuantile(normalCdf(z), 0.8, 2.5), 4);
    }
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 4);
  });
});
