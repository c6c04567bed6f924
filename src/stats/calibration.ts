/**
 * Probability calibration of a score: Platt scaling (a 2-parameter sigmoid) and isotonic
 * regression (pool-adjacent-violators). Fit on held-out scores, never on the model's own
 * training predictions, or the calibration inherits the overfit.
 */
import { fitLogistic } from './logistic.ts';
import { sigmoid } from './special.ts';

export type PlattModel = { a: number; b: number };

/**
 * Platt scaling: P(y = 1 | s) = σ(a·s + b), fitted by maximum likelihood against Platt's
 * smoothed targets (N₊+1)/(N₊+2) and 1/(N₋+2) instead of 1 and 0 (Platt 1999; Lin, Lin & Weng
 * 2007). The smoothing keeps a and b finite when the scores separate the classes perfectly.
 */
export function fitPlatt(scores: readonly number[], labels: readonly number[]): PlattModel {
  checkInputs(scores, labels);
  if (labels.some((l) => l !== 0 && l !== 1)) throw new RangeError('fitPlatt: labels must be 0 or 1');
  const positives = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  const negatives = labels.length - positives;
  const hi = (positives + 1) / (positives + 2);
  const lo = 1 / (negatives + 2);
  const model = fitLogistic(
    scores.map((s) => [s]),
    labels.map((l) => (l === 1 ? hi : lo)),
  );
  return { a: model.coefficients[0] as number, b: model.intercept };
}

/** Platt-calibrated probability σ(a·s + b) for one score (Platt 1999). */
export function applyPlatt(model: PlattModel, score: number): number {
  if (!Number.isFinite(score)) throw new RangeError(`applyPlatt: score is ${score}, expected a finite number`);
  return sigmoid(model.a * score + model.b);
}

/**
 * A non-decreasing piecewise-linear map from score to probability: `x` ascending thresholds and
 * `y` their fitted values. Between thresholds the value is interpolated linearly; outside them it
 * is clipped to the end values (sklearn's IsotonicRegression with out_of_bounds='clip').
 */
export type IsotonicModel = { x: number[]; y: number[] };

/**
 * Isotonic regression by pool-adjacent-violators (Ayer et al. 1955; as sklearn IsotonicRegression):
 * the non-decreasing step function closest to the labels in squared error. Tied scores are merged
 * first (their mean label, weighted by count). Labels may be 0/1 or any value in [0, 1].
 */
export function fitIsotonic(scores: readonly number[], labels: readonly number[]): IsotonicModel {
  checkInputs(scores, labels);
  if (labels.some((l) => !(l >= 0 && l <= 1))) throw new RangeError('fitIsotonic: labels must lie in [0, 1]');
  const order = scores.map((_, i) => i).sort((i, j) => (scores[i] as number) - (scores[j] as number));

  // Blocks on a stack: each has its value (weighted mean), weight, and the score range it spans.
  const value: number[] = [];
  const weight: number[] = [];
  const low: number[] = [];
  const high: number[] = [];
  for (let i = 0; i < order.length; ) {
    const s = scores[order[i] as number] as number;
    let sum = 0;
    let count = 0;
    while (i < order.length && scores[order[i] as number] === s) {
      sum += labels[order[i] as number] as number;
      count++;
      i++;
    }
    value.push(sum / count);
    weight.push(count);
    low.push(s);
    high.push(s);
    // Pool while the last two blocks violate monotonicity.
    while (value.length > 1 && (value[value.length - 2] as number) >= (value[value.length - 1] as number)) {
      const v2 = value.pop() as number;
      const w2 = weight.pop() as number;
      const h2 = high.pop() as number;
      low.pop();
      const last = value.length - 1;
      const w1 = weight[last] as number;
      value[last] = ((value[last] as number) * w1 + v2 * w2) / (w1 + w2);
      weight[last] = w1 + w2;
      high[last] = h2;
    }
  }
  const x: number[] = [];
  const y: number[] = [];
  value.forEach((v, b) => {
    x.push(low[b] as number);
    y.push(v);
    if ((high[b] as number) > (low[b] as number)) {
      x.push(high[b] as number);
      y.push(v);
    }
  });
  return { x, y };
}

/** Isotonic-calibrated probability for one score: linear between thresholds, clipped outside (binary search; allocation-free). */
export function applyIsotonic(model: IsotonicModel, score: number): number {
  if (!Number.isFinite(score)) throw new RangeError(`applyIsotonic: score is ${score}, expected a finite number`);
  const { x, y } = model;
  const last = x.length - 1;
  if (score <= (x[0] as number)) return y[0] as number;
  if (score >= (x[last] as number)) return y[last] as number;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((x[mid] as number) <= score) lo = mid;
    else hi = mid;
  }
  const x0 = x[lo] as number;
  const x1 = x[hi] as number;
  const y0 = y[lo] as number;
  const y1 = y[hi] as number;
  return x1 === x0 ? y1 : y0 + ((score - x0) / (x1 - x0)) * (y1 - y0);
}

function checkInputs(scores: readonly number[], labels: readonly number[]): void {
  if (scores.length !== labels.length) throw new RangeError(`length mismatch: ${scores.length} vs ${labels.length}`);
  if (scores.length === 0) throw new RangeError('calibration needs at least one score');
  scores.forEach((s, i) => {
    if (!Number.isFinite(s)) throw new RangeError(`score ${i} is ${s}, expected a finite number`);
  });
}
