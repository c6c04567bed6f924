import { describe, expect, it } from 'vitest';
import { stratifiedKFold } from '../../../src/stats/cross-validation.ts';

describe('stratifiedKFold', () => {
  const labels = Array.from({ length: 103 }, (_, i) => (i % 10 === 0 ? 1 : 0)); // 11 positives, 92 negatives

  it('balances positives and sizes across folds', () => {
    const folds = stratifiedKFold(labels, 5, 7);
    expect(folds).toHaveLength(103);
    const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((v) => v === f).length);
    const positives = [0, 1, 2, 3, 4].map((f) => folds.filter((v, i) => v === f && labels[i] === 1).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(Math.max(...positives) - Math.min(...positives)).toBeLessThanOrEqual(1);
    expect(positives.reduce((s, v) => s + v, 0)).toBe(11);
  });

  it('is deterministic for a seed and shuffles with it', () => {
    expect(stratifiedKFold(labels, 5, 7)).toEqual(stratifiedKFold(labels, 5, 7));
    expect(stratifiedKFold(labels, 5, 8)).not.toEqual(stratifiedKFold(labels, 5, 7));
  });

  it('refuses folds it cannot stratify, with the counts', () => {
    expect(() => stratifiedKFold([1, 0, 0, 0, 0, 0], 5)).toThrow(/1 positives and 5 negatives/);
    expect(() => stratifiedKFold(labels, 1)).toThrow(/k must be an integer ≥ 2/);
    expect(() => stratifiedKFold([0, 1, 2], 2)).toThrow(/label 2 is 2/);
  });
});
