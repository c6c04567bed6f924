import { describe, expect, it } from 'vitest';
import { bgNbdConditionalExpected, type BgNbdParams } from '../../../src/stats/bg-nbd.ts';
import {
  conditionalExpectedSpend,
  customerLifetimeValue,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  gammaGammaTotalLogLikelihood,
  type GammaGammaParams,
} from '../../../src/stats/gamma-gamma.ts';
import { loadCdnowWithSpend } from '../../support/reference-data.ts';

// References: shared/data/cdnow/README.md (Hardie note 025, lifetimes TestGammaGammaFitter, CLVTools test_correctness_gg.R).
const PUBLISHED: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
const FIRST_TEN_SPEND = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17];

describe('fitGammaGamma on the 946 CDNOW repeat buyers', () => {
  const customers = loadCdnowWithSpend();
  const repeaters = customers.filter((c) => c.x > 0);
  const fit = fitGammaGamma(repeaters);

  it('uses the 946 repeat buyers with mean zbar 35.08', () => {
    expect(repeaters).toHaveLength(946);
    expect(repeaters.reduce((s, c) => s + c.zbar, 0) / 946).toBeCloseTo(35.08, 2);
  });

  it('recovers p 6.25, q 3.74, γ 15.44 (lifetimes ±0.015) and LL −4055.92', () => {
    expect(fit.converged).toBe(true);
    // The published values are rounded to 2 decimals; the MLE on this file (README: scipy 6.2488,
    // 3.7446, 15.4477) sits 0.12 % from the rounded q, so the rounded values get lifetimes' ±0.015
    // and the unrounded MLE a tight bound.
    const MLE = { p: 6.2488, q: 3.7446, gamma: 15.4477 };
    for (const key of ['p', 'q', 'gamma'] as const) {
      expect(Math.abs(fit[key] - PUBLISHED[key])).toBeLessThan(0.015);
      expect(Math.abs(fit[key] - MLE[key])).toBeLessThan(1e-3);
    }
    expect(Math.abs(fit.logLikelihood - -4055.92)).toBeLessThan(0.01);
    expect(Math.abs(fit.logLikelihood - -4055.9177) / 4055.9177).toBeLessThan(1e-3);
    expect(gammaGammaTotalLogLikelihood(PUBLISHED, repeaters)).toBeCloseTo(-4055.9247, 3);
    expect(gammaGammaTotalLogLikelihood(PUBLISHED, repeaters)).toBeLessThan(fit.logLikelihood);
  });

  it('the fit does not depend on the currency unit (γ scales, p and q do not)', () => {
    const cents = fitGammaGamma(repeaters.map((c) => ({ x: c.x, zbar: c.zbar * 100 })));
    expect(cents.p).toBeCloseTo(fit.p, 3);
    expect(cents.q).toBeCloseTo(fit.q, 3);
    expect(cents.gamma / 100).toBeCloseTo(fit.gamma, 2);
  });

  it('E[M | x, zbar] for the first ten customers matches Hardie\'s spreadsheet', () => {
    const atFit = customers.slice(0, 10).map((c) => conditionalExpectedSpend(fit, c));
    atFit.forEach((m, i) => expect(Math.abs(m - (FIRST_TEN_SPEND[i] as number))).toBeLessThan(0.01));
    // lifetimes checks the same values at the rounded parameters with abs 0.1
    const atPublished = customers.slice(0, 10).map((c) => conditionalExpectedSpend(PUBLISHED, c));
    atPublished.forEach((m, i) => expect(Math.abs(m - (FIRST_TEN_SPEND[i] as number))).toBeLessThan(0.1));
  });

  it('x = 0 gets the population mean pγ/(q−1); many purchases pull toward the customer\'s own mean', () => {
    expect(conditionalExpectedSpend(PUBLISHED, { x: 0, zbar: 0 })).toBeCloseTo((6.25 * 15.44) / 2.74, 10);
    expect(conditionalExpectedSpend(PUBLISHED, { x: 0, zbar: 500 })).toBeCloseTo((6.25 * 15.44) / 2.74, 10);
    const few = conditionalExpectedSpend(PUBLISHED, { x: 1, zbar: 100 });
    const many = conditionalExpectedSpend(PUBLISHED, { x: 50, zbar: 100 });
    expect(few).toBeLessThan(many);
    expect(Math.abs(many - 100)).toBeLessThan(2);
  });

  it('per-customer likelihood matches the note-025 formula written out', () => {
    const { p, q, gamma } = PUBLISHED;
    const x = 3;
    const zbar = 20;
    // Γ ratios small enough to compute directly here.
    const direct =
      (gammaFn(p * x + q) / (gammaFn(p * x) * gammaFn(q))) *
      (gamma ** q * zbar ** (p * x - 1) * x ** (p * x)) /
      (gamma + x * zbar) ** (p * x + q);
    expect(gammaGammaLogLikelihood(PUBLISHED, { x, zbar })).toBeCloseTo(Math.log(direct), 8);
  });
});

describe('customerLifetimeValue', () => {
  const bgNbd: BgNbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
  const customer = { x: 2, tx: 30.43, T: 38.86, zbar: 22.35 };
  const models = { bgNbd, gammaGamma: PUBLISHED };

  it('undiscounted, it telescopes to E[M] · E[Y(K·Δ)]', () => {
    const clv = customerLifetimeValue(models, customer, { periods: 12, periodLength: 4.345, discountRate: 0 });
    const expected = conditionalExpectedSpend(PUBLISHED, customer) * bgNbdConditionalExpected(bgNbd, 12 * 4.345, customer);
    expect(clv).toBeCloseTo(expected, 10);
  });

  it('one period is E[M] · E[Y(Δ)] / (1 + d); discounting lowers value, more periods raise it', () => {
    const one = customerLifetimeValue(models, customer, { periods: 1, periodLength: 4, discountRate: 0.1 });
    expect(one).toBeCloseTo(
      (conditionalExpectedSpend(PUBLISHED, customer) * bgNbdConditionalExpected(bgNbd, 4, customer)) / 1.1,
      10,
    );
    const plain = customerLifetimeValue(models, customer, { periods: 24, periodLength: 4, discountRate: 0 });
    const discounted = customerLifetimeValue(models, customer, { periods: 24, periodLength: 4, discountRate: 0.01 });
    const longer = customerLifetimeValue(models, customer, { periods: 36, periodLength: 4, discountRate: 0.01 });
    expect(discounted).toBeLessThan(plain);
    expect(longer).toBeGreaterThan(discounted);
    expect(customerLifetimeValue(models, customer, { periods: 0, periodLength: 4, discountRate: 0.01 })).toBe(0);
  });
});

describe('Gamma-Gamma failure paths', () => {
  it('rejects bad data and parameters with clear errors', () => {
    expect(() => fitGammaGamma([])).toThrow(/at least one repeat buyer/);
    expect(() => fitGammaGamma([{ x: 0, zbar: 0 }])).toThrow(/x > 0 and zbar > 0/);
    expect(() => fitGammaGamma([{ x: 2, zbar: Number.NaN }])).toThrow(/x > 0 and zbar > 0/);
    expect(() => fitGammaGamma([{ x: 2, zbar: 3 }], { penalty: Number.NaN })).toThrow(/penalty/);
    expect(() => conditionalExpectedSpend({ p: 6, q: 0.9, gamma: 15 }, { x: 1, zbar: 10 })).toThrow(/q > 1/);
    expect(() => conditionalExpectedSpend({ p: -1, q: 3, gamma: 15 }, { x: 1, zbar: 10 })).toThrow(/finite and positive/);
    expect(() => conditionalExpectedSpend(PUBLISHED, { x: 2, zbar: Number.NaN })).toThrow(/zbar/);
    expect(() => gammaGammaLogLikelihood(PUBLISHED, { x: 0, zbar: 1 })).toThrow(/repeat buyer/);
    const models = { bgNbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 }, gammaGamma: PUBLISHED };
    const c = { x: 1, tx: 1, T: 2, zbar: 10 };
    expect(() => customerLifetimeValue(models, c, { periods: 1.5, periodLength: 4, discountRate: 0 })).toThrow(/periods/);
    expect(() => customerLifetimeValue(models, c, { periods: 3, periodLength: 0, discountRate: 0 })).toThrow(/periodLength/);
    expect(() => customerLifetimeValue(models, c, { periods: 3, periodLength: 4, discountRate: -1 })).toThrow(/discountRate/);
  });
});

// Γ(x) by an implementation independent of special.ts: recurrence up to x ≥ 10, then Stirling's series.
function gammaFn(x: number): number {
  let shift = 1;
  let z = x;
  while (z < 10) {
    shift *= z;
    z += 1;
  }
  const inv = 1 / z;
  const inv2 = inv * inv;
  const series =
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 * (1 / 1188 - inv2 * (691 / 360360))))));
  const lnGamma = (z - 0.5) * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI) + series;
  return Math.exp(lnGamma) / shift;
}
