import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  averageRanks,
  brierScore,
  expectedCalibrationError,
  liftAtTop,
  logLoss,
  pearson,
  reliabilityCurve,
  rocAuc,
  rocCurve,
  spearman,
} from '../../../src/stats/metrics.ts';
import { createRandom } from '../../../src/stats/random.ts';

// Hand-computable cases, worked by hand below.
describe('ROC AUC', () => {
  it('worked by hand: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] → 0.75', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
  });

  it('counts ties as ½: positives {0.5, 0.9} vs negatives {0.5, 0.2} → (½ + 1 + 1 + 1) / 4', () => {
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0, 1, 0, 1], [3, 3, 3, 3])).toBe(0.5);
    expect(rocAuc([1, 1, 0, 0], [2, 1, 0, -1])).toBe(1);
    expect(rocAuc([0, 0, 1, 1], [2, 1, 0, -1])).toBe(0);
  });

  it('equals brute-force pair counting and the trapezoid area under rocCurve on tied random data', () => {
    const random = createRandom(7);
    const n = 300;
    const labels = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
    const scores = labels.map((y) => Math.round((random() + 0.3 * y) * 20) / 20); // heavy ties
    let wins = 0;
    let pairs = 0;
    labels.forEach((yi, i) => {
      if (yi !== 1) return;
      labels.forEach((yj, j) => {
        if (yj !== 0) return;
        pairs++;
        const si = scores[i] as number;
        const sj = scores[j] as number;
        wins += si > sj ? 1 : si === sj ? 0.5 : 0;
      });
    });
    const auc = rocAuc(labels, scores);
    expect(auc).toBeCloseTo(wins / pairs, 12);
    const curve = rocCurve(labels, scores);
    expect(curve[0]).toEqual({ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 });
    expect(curve.at(-1)).toMatchObject({ fpr: 1, tpr: 1 });
    let area = 0;
    for (let i = 1; i < curve.length; i++) {
      const a = curve[i - 1] as { fpr: number; tpr: number };
      const b = curve[i] as { fpr: number; tpr: number };
      area += ((b.fpr - a.fpr) * (a.tpr + b.tpr)) / 2;
    }
    expect(area).toBeCloseTo(auc, 12);
  });
});

describe('average precision (PR AUC)', () => {
  it('worked by hand: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] → 0.8333 (sklearn, step-wise)', () => {
    expect(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(5 / 6, 12);
  });

  it('treats tied scores as one threshold: ½·1 + ½·⅔', () => {
    expect(averagePrecision([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1])).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(averagePrecision([1, 1, 0], [3, 2, 1])).toBe(1);
    expect(averagePrecision([0, 1, 0, 1], [1, 1, 1, 1])).toBe(0.5); // constant score = prevalence
  });
});

describe('Brier, log loss', () => {
  it('worked by hand: y = [0,1,1,0], p = [0.1,0.9,0.8,0.3] → Brier 0.0375', () => {
    expect(brierScore([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3])).toBeCloseTo(0.0375, 12);
  });

  it('log loss of y = [1,0], p = [0.8,0.3] is −(ln 0.8 + ln 0.7)/2; p = 0 or 1 stays finite', () => {
    expect(logLoss([1, 0], [0.8, 0.3])).toBeCloseTo(0.2899092476264711, 12);
    expect(logLoss([1, 0], [0, 1])).toBeCloseTo(34.54, 2); // clipped at 1e-15: −ln(1e-15) ≈ 34.54
  });
});

describe('reliability curve and ECE (10 equal-width bins, [i/10, (i+1)/10), last closed)', () => {
  it('worked example: bins {0.05}, {0.15, 0.15}, {0.95} → ECE = ¼·0.05 + ½·0.35 + ¼·0.05 = 0.2', () => {
    const y = [0, 0, 1, 1];
    const p = [0.05, 0.15, 0.15, 0.95];
    expect(expectedCalibrationError(y, p)).toBeCloseTo(0.2, 12);
    const curve = reliabilityCurve(y, p);
    expect(curve.map((b) => [b.lower, b.count, b.observedRate])).toEqual([
      [0, 1, 0],
      [0.1, 2, 0.5],
      [0.9, 1, 1],
    ]);
  });

  it('bin edges: p = 0.1 goes to [0.1, 0.2), p = 1 to the last bin; a coarser binning is honoured', () => {
    const curve = reliabilityCurve([0, 1, 1], [0.1, 1, 0.999]);
    expect(curve.map((b) => [b.lower, b.count])).toEqual([
      [0.1, 1],
      [0.9, 2],
    ]);
    expect(expectedCalibrationError([0, 1], [0.3, 0.7], 1)).toBe(0);
    expect(expectedCalibrationError([0, 1], [0.3, 0.7], 10)).toBeCloseTo(0.3, 12);
  });

  it('is ~0 for calibrated probabilities and large for overconfident ones', () => {
    const random = createRandom(11);
    const p = Array.from({ length: 20_000 }, () => random());
    const y = p.map((pi) => (random() < pi ? 1 : 0));
    expect(expectedCalibrationError(y, p)).toBeLessThan(0.02);
    const overconfident = p.map((pi) => (pi > 0.5 ? 1 : 0));
    expect(expectedCalibrationError(y, overconfident)).toBeGreaterThan(0.2);
  });
});

describe('lift at the top decile', () => {
  it('20 rows, 4 positives, top 2 both positive → lift 5, capture ½', () => {
    const labels = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const scores = labels.map((_, i) => 20 - i);
    expect(liftAtTop(labels, scores)).toEqual({ lift: 5, captureRate: 0.5, selected: 2 });
    expect(liftAtTop(labels, scores, 0.25)).toEqual({ lift: 3 / 5 / (4 / 20), captureRate: 0.75, selected: 5 });
  });

  it('ties at the cut count fractionally: a constant score has lift 1 whatever the row order', () => {
    expect(liftAtTop([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array(10).fill(0.3))).toMatchObject({ lift: 1, captureRate: 1 / 10 });
    expect(liftAtTop([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], new Array(10).fill(0.3)).lift).toBe(1);
    // top 2 of [9, 5, 5, 5, …]: row 0 (positive) + ⅓ of the tie group {1 positive of 3}
    const labels = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const scores = [9, 5, 5, 5, ...new Array(16).fill(1)];
    const lift = liftAtTop(labels, scores);
    expect(lift.captureRate).toBeCloseTo((1 + 1 / 3) / 3, 12);
    expect(lift.lift).toBeCloseTo((1 + 1 / 3) / 2 / (3 / 20), 12);
  });
});

describe('Spearman and ranks', () => {
  it('average ranks for ties and Spearman on a hand case', () => {
    expect(averageRanks([5, 6, 7, 8, 7])).toEqual([1, 2, 3.5, 5, 3.5]);
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    expect(spearman([1, 2, 3], [10, 100, 1000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [2, 4, 6.5])).toBeCloseTo(0.9979487157886733, 12); // Python statistics.correlation
  });
});

describe('metrics reject undefined cases and bad input (never a silent NaN)', () => {
  it('throws with the reason', () => {
    expect(() => rocAuc([1, 1], [0.2, 0.3])).toThrow(/one class only \(2 positives, 0 negatives\)/);
    expect(() => rocCurve([0, 0], [0.2, 0.3])).toThrow(/one class only/);
    expect(() => averagePrecision([0, 0], [0.2, 0.3])).toThrow(/without a positive/);
    expect(() => liftAtTop([0, 0], [0.2, 0.3])).toThrow(/without a positive/);
    expect(() => rocAuc([0, 2], [0.2, 0.3])).toThrow(/label 1 is 2/);
    expect(() => rocAuc([0, 1], [0.2, Number.NaN])).toThrow(/score 1 is NaN/);
    expect(() => brierScore([0, 1], [0.2, 1.2])).toThrow(/outside \[0, 1\]/);
    expect(() => brierScore([0, 1], [0.2])).toThrow(/length mismatch/);
    expect(() => brierScore([], [])).toThrow(/at least one/);
    expect(() => expectedCalibrationError([0, 1], [0.2, 0.3], 0)).toThrow(/bins/);
    expect(() => liftAtTop([0, 1], [0.2, 0.3], 0)).toThrow(/fraction/);
    expect(() => spearman([1, 1, 1], [1, 2, 3])).toThrow(/constant/);
    expect(() => spearman([1, Number.POSITIVE_INFINITY], [1, 2])).toThrow(/finite/);
  });
});
