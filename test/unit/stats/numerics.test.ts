import { gammaln } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { nelderMead } from '../../../src/stats/optimize.ts';
import { createRandom, randomInt, shuffleInPlace } from '../../../src/stats/random.ts';
import { logAddExp, logBeta, logGamma, sigmoid, softplus } from '../../../src/stats/special.ts';

describe('special functions', () => {
  it('log Γ matches reference values (Python math.lgamma) to ~1e-13 relative', () => {
    const cases: [number, number][] = [
      [0.1, 2.2527126517342055],
      [0.5, 0.5723649429247004],
      [1, 0],
      [2, 0],
      [3.7, 1.4280723266653883],
      [10, 12.801827480081467],
      [100, 359.1342053695754],
      [1e6, 12815504.569147611],
      [1e-8, 18.42068073818021],
    ];
    for (const [x, expected] of cases) {
      expect(Math.abs(logGamma(x) - expected)).toBeLessThan(1e-13 * Math.max(1, Math.abs(expected)));
    }
    for (const x of [0.3, 1.5, 7.25, 42]) expect(logGamma(x)).toBeCloseTo(gammaln(x), 9);
    expect(logBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 13);
  });

  it('log-sum-exp, softplus and sigmoid do not overflow', () => {
    expect(logAddExp(1000, 1000)).toBeCloseTo(1000 + Math.LN2, 12);
    expect(logAddExp(Number.NEGATIVE_INFINITY, 3)).toBe(3);
    expect(logAddExp(-1e308, -1e308)).toBeCloseTo(-1e308, 0);
    expect(softplus(1000)).toBe(1000);
    expect(softplus(-1000)).toBe(0);
    expect(softplus(0)).toBeCloseTo(Math.LN2, 15);
    expect(sigmoid(-800)).toBe(0);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-40)).toBeGreaterThan(0);
    expect(sigmoid(0)).toBe(0.5);
  });
});

describe('Nelder–Mead', () => {
  it('finds the Rosenbrock minimum (1, 1)', () => {
    const rosenbrock = ([x, y]: readonly number[]): number => 100 * ((y as number) - (x as number) ** 2) ** 2 + (1 - (x as number)) ** 2;
    const result = nelderMead(rosenbrock, [-1.2, 1]);
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });

  it('treats non-finite values as +∞ and reports an exhausted budget as not converged', () => {
    const guarded = ([x]: readonly number[]): number => ((x as number) < 0 ? Number.NaN : ((x as number) - 2) ** 2);
    expect(nelderMead(guarded, [1]).x[0]).toBeCloseTo(2, 6);
    const bowl = (v: readonly number[]): number => v.reduce((s, x, i) => s + (i + 1) * x * x, 0);
    expect(nelderMead(bowl, [3, 3, 3, 3], { maxIterations: 5 }).converged).toBe(false);
  });
});

describe('seeded random numbers', () => {
  it('same seed, same sequence; different seed, different sequence; values in [0, 1)', () => {
    const a = createRandom(99);
    const b = createRandom(99);
    const c = createRandom(100);
    const sa = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(sa);
    expect(sa.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = sa.reduce((s, v) => s + v, 0) / sa.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it('shuffle is a permutation; randomInt stays in range', () => {
    const random = createRandom(1);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = shuffleInPlace([...items], random);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
    for (let i = 0; i < 100; i++) {
      const v = randomInt(random, 7);
      expect(Number.isInteger(v) && v >= 0 && v < 7).toBe(true);
    }
  });
});
