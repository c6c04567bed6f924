import { describe, expect, it } from 'vitest';
import { applyIsotonic, applyPlatt, fitIsotonic, fitPlatt } from '../../../src/stats/calibration.ts';
import { brierScore, expectedCalibrationError } from '../../../src/stats/metrics.ts';
import { createRandom } from '../../../src/stats/random.ts';
import { sigmoid } from '../../../src/stats/special.ts';

describe('Platt scaling', () => {
  it('two separated points: Platt targets 2/3 and 1/3 give b = ln ½ and a = 2 ln 2 exactly', () => {
    const model = fitPlatt([0, 1], [0, 1]);
    expect(model.b).toBeCloseTo(Math.log(0.5), 8);
    expect(model.a).toBeCloseTo(2 * Math.log(2), 8);
    expect(applyPlatt(model, 0)).toBeCloseTo(1 / 3, 8);
    expect(applyPlatt(model, 1)).toBeCloseTo(2 / 3, 8);
  });

  it('recovers a logistic link: y ~ Bernoulli(σ(2s − 1))', () => {
    const random = createRandom(3);
    const scores = Array.from({ length: 5000 }, () => random() * 6 - 3);
    const labels = scores.map((s) => (random() < sigmoid(2 * s - 1) ? 1 : 0));
    const model = fitPlatt(scores, labels);
    expect(Math.abs(model.a - 2)).toBeLessThan(0.15);
    expect(Math.abs(model.b + 1)).toBeLessThan(0.15);
  });

  it('stays finite on perfectly separated scores', () => {
    const model = fitPlatt([1, 2, 3, 10, 11, 12], [0, 0, 0, 1, 1, 1]);
    expect(Number.isFinite(model.a) && Number.isFinite(model.b)).toBe(true);
    expect(applyPlatt(model, 12)).toBeLessThan(1);
    expect(applyPlatt(model, 12)).toBeGreaterThan(0.7);
  });
});

describe('isotonic regression (PAV)', () => {
  it('hand case: [0,1,0,1,1] over scores 1..5 pools {2,3} to ½ (as sklearn); interpolates and clips', () => {
    const model = fitIsotonic([1, 2, 3, 4, 5], [0, 1, 0, 1, 1]);
    expect([1, 2, 3, 4, 5].map((s) => applyIsotonic(model, s))).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(applyIsotonic(model, 3.5)).toBeCloseTo(0.75, 12);
    expect(applyIsotonic(model, 1.5)).toBeCloseTo(0.25, 12);
    expect(applyIsotonic(model, -100)).toBe(0);
    expect(applyIsotonic(model, 100)).toBe(1);
  });

  it('merges tied scores before pooling', () => {
    const model = fitIsotonic([1, 1, 2], [1, 0, 0]);
    expect(applyIsotonic(model, 1)).toBeCloseTo(1 / 3, 12);
    expect(applyIsotonic(model, 2)).toBeCloseTo(1 / 3, 12);
  });

  it('on random data: non-decreasing, preserves the label sum, and no worse than any pooled constant', () => {
    const random = createRandom(5);
    const scores = Array.from({ length: 400 }, () => random());
    const labels: number[] = scores.map((s) => (random() < s * s ? 1 : 0));
    const model = fitIsotonic(scores, labels);
    const fitted = scores.map((s) => applyIsotonic(model, s));
    const order = scores.map((_, i) => i).sort((i, j) => (scores[i] as number) - (scores[j] as number));
    for (let k = 1; k < order.length; k++) {
      expect(fitted[order[k] as number] as number).toBeGreaterThanOrEqual(fitted[order[k - 1] as number] as number);
    }
    // PAV's fitted values are block means, so they sum to the label sum.
    expect(fitted.reduce((s, v) => s + v, 0)).toBeCloseTo(labels.reduce((s, v) => s + v, 0), 8);
    const sse = (f: readonly number[]): number => f.reduce((s, v, i) => s + (v - (labels[i] as number)) ** 2, 0);
    const mean = labels.reduce((s, v) => s + v, 0) / labels.length;
    expect(sse(fitted)).toBeLessThanOrEqual(sse(labels.map(() => mean)));
  });

  it('repairs miscalibrated probabilities on held-out data (ECE and Brier drop)', () => {
    const random = createRandom(9);
    const truth = Array.from({ length: 8000 }, () => random());
    const labels = truth.map((p) => (random() < p ? 1 : 0));
    const skewed = truth.map((p) => p ** 3); // ranks right, probabilities far too low
    const half = 4000;
    const iso = fitIsotonic(skewed.slice(0, half), labels.slice(0, half));
    const platt = fitPlatt(skewed.slice(0, half), labels.slice(0, half));
    const testLabels = labels.slice(half);
    const raw = skewed.slice(half);
    const isoP = raw.map((s) => applyIsotonic(iso, s));
    const plattP = raw.map((s) => applyPlatt(platt, s));
    const rawEce = expectedCalibrationError(testLabels, raw);
    expect(rawEce).toBeGreaterThan(0.15);
    expect(expectedCalibrationError(testLabels, isoP)).toBeLessThan(0.04);
    expect(expectedCalibrationError(testLabels, plattP)).toBeLessThan(rawEce / 2);
    expect(brierScore(testLabels, isoP)).toBeLessThan(brierScore(testLabels, raw));
  });
});

describe('calibration failure paths', () => {
  it('rejects bad input clearly', () => {
    expect(() => fitPlatt([0, 1], [0])).toThrow(/length mismatch/);
    expect(() => fitPlatt([], [])).toThrow(/at least one/);
    expect(() => fitPlatt([0, Number.NaN], [0, 1])).toThrow(/score 1 is NaN/);
    expect(() => fitPlatt([0, 1], [0, 0.5])).toThrow(/0 or 1/);
    expect(() => fitIsotonic([0, 1], [0, 2])).toThrow(/\[0, 1\]/);
    expect(() => applyPlatt({ a: 1, b: 0 }, Number.NaN)).toThrow(/finite/);
    expect(() => applyIsotonic({ x: [0, 1], y: [0, 1] }, Number.NaN)).toThrow(/finite/);
  });
});
