/**
 * Cross-validated evaluation of the churn model on a design matrix (`rapport model eval`): the
 * same model the daemon trains — logistic regression by IRLS with an L2 penalty on standardized
 * columns, Platt-calibrated — scored by stratified k-fold cross-validation (src/stats/cross-validation.ts).
 *
 * Calibration never sees the rows it is judged on: inside each training fold, an inner stratified
 * 3-fold split gives out-of-fold logits to fit Platt's sigmoid on (as sklearn's
 * CalibratedClassifierCV with ensemble=False), then the model refitted on the whole training fold
 * scores the held-out fold through that sigmoid.
 */
import { DataError } from './csv.ts';
import { applyPlatt, fitPlatt, type PlattModel } from '../stats/calibration.ts';
import { stratifiedKFold } from '../stats/cross-validation.ts';
import { fitLogistic, type LogisticModel } from '../stats/logistic.ts';
import { averagePrecision, brierScore, expectedCalibrationError, liftAtTop, rocAuc } from '../stats/metrics.ts';

export type FoldMetrics = { n: number; positives: number; rocAuc: number; prAuc: number; brier: number; ece: number };

export type Evaluation = {
  n: number;
  positives: number;
  folds: number;
  seed: number;
  l2: number;
  /** metrics of the pooled out-of-fold probabilities (every row predicted once, by a model that never saw it) */
  rocAuc: number;
  prAuc: number;
  brier: number;
  /** 1 − Brier / Brier of always predicting the base rate */
  brierSkill: number;
  /** 10 equal-width bins */
  ece: number;
  liftTop10: number;
  baseRate: number;
  perFold: FoldMetrics[];
  /** mean and standard deviation over the folds */
  spread: Record<'rocAuc' | 'prAuc' | 'brier' | 'ece', { mean: number; sd: number; min: number; max: number }>;
  /** folds whose fit hit the iteration cap or flagged (quasi-)separation */
  warnings: string[];
  /** out-of-fold calibrated probability per row */
  probabilities: number[];
  /** 95 % interval of the pooled ROC AUC (Hanley & McNeil 1982) and whether it clears 0.5 */
  rocAucInterval: { low: number; high: number };
  betterThanChance: boolean;
};

const INNER_FOLDS = 3;

export function evaluateChurnModel(
  X: readonly (readonly number[])[],
  y: readonly number[],
  opts: { folds?: number; seed?: number; l2?: number } = {},
): Evaluation {
  const k = opts.folds ?? 5;
  const seed = opts.seed ?? 1;
  const l2 = opts.l2 ?? 1;
  const n = y.length;
  const positives = y.reduce((s, v) => s + v, 0);
  const negatives = n - positives;
  // Each training fold must still hold enough of each class for the inner calibration split.
  const needed = Math.max(k, Math.ceil((INNER_FOLDS * k) / (k - 1)) + 1);
  if (Math.min(positives, negatives) < needed) {
    throw new DataError(
      `${k}-fold cross-validation needs at least ${needed} rows of each class; the data have ${positives} positive and ${negatives} negative` +
        (k > 2 ? ' (try fewer --folds)' : ''),
    );
  }
  const folds = stratifiedKFold(y, k, seed);
  const probabilities = new Array<number>(n).fill(0);
  const perFold: FoldMetrics[] = [];
  const capped: number[] = [];
  const separated: number[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    folds.forEach((g, i) => (g === f ? test : train).push(i));
    const trainX = train.map((i) => X[i] as readonly number[]);
    const trainY = train.map((i) => y[i] as number);
    const platt = innerPlatt(trainX, trainY, l2, seed + 1 + f);
    const model = fitLogistic(trainX, trainY, { l2 });
    if (!model.converged) capped.push(f + 1);
    if (model.separation) separated.push(f + 1);
    const testY = test.map((i) => y[i] as number);
    const testP = test.map((i) => applyPlatt(platt, logit(model, X[i] as readonly number[])));
    test.forEach((i, t) => (probabilities[i] = testP[t] as number));
    perFold.push({
      n: test.length,
      positives: testY.reduce((s, v) => s + v, 0),
      rocAuc: rocAuc(testY, testP),
      prAuc: averagePrecision(testY, testP),
      brier: brierScore(testY, testP),
      ece: expectedCalibrationError(testY, testP),
    });
  }
  const warnings: string[] = [];
  const inFolds = (folds: number[]) => (folds.length === k ? `in all ${k} folds` : `in fold${folds.length === 1 ? '' : 's'} ${folds.join(', ')}`);
  if (capped.length > 0) warnings.push(`${inFolds(capped)} the fit stopped at its iteration cap`);
  if (separated.length > 0) {
    warnings.push(`${inFolds(separated)} the classes are (nearly) separable, so coefficients run off to infinity; use --l2 > 0`);
  }
  const ys = [...y];
  const baseRate = positives / n;
  const brier = brierScore(ys, probabilities);
  const pooledAuc = rocAuc(ys, probabilities);
  const interval = aucInterval(pooledAuc, positives, negatives);
  const summary = (key: 'rocAuc' | 'prAuc' | 'brier' | 'ece') => {
    const v = perFold.map((m) => m[key]);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, v.length - 1));
    return { mean, sd, min: Math.min(...v), max: Math.max(...v) };
  };
  return {
    n,
    positives,
    folds: k,
    seed,
    l2,
    rocAuc: pooledAuc,
    prAuc: averagePrecision(ys, probabilities),
    brier,
    brierSkill: 1 - brier / (baseRate * (1 - baseRate)),
    ece: expectedCalibrationError(ys, probabilities),
    liftTop10: liftAtTop(ys, probabilities, 0.1).lift,
    baseRate,
    perFold,
    spread: { rocAuc: summary('rocAuc'), prAuc: summary('prAuc'), brier: summary('brier'), ece: summary('ece') },
    warnings,
    probabilities,
    rocAucInterval: interval,
    betterThanChance: interval.low > 0.5,
  };
}

/**
 * The 95 % interval of a ROC AUC from its standard error (Hanley & McNeil 1982, "The meaning and
 * use of the area under a ROC curve", Radiology 143:29–36, eq. 2). When it reaches down to 0.5
 * the model ranks churners no better than a coin would, and its coefficients describe noise.
 */
export function aucInterval(auc: number, positives: number, negatives: number): { low: number; high: number } {
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives);
  const se = Math.sqrt(Math.max(0, variance));
  return { low: Math.max(0, auc - 1.96 * se), high: Math.min(1, auc + 1.96 * se) };
}

/** Platt's sigmoid fitted on out-of-fold logits of the training rows (never on in-sample ones). */
function innerPlatt(X: readonly (readonly number[])[], y: readonly number[], l2: number, seed: number): PlattModel {
  const inner = stratifiedKFold(y, INNER_FOLDS, seed);
  const logits = new Array<number>(y.length).fill(0);
  for (let g = 0; g < INNER_FOLDS; g++) {
    const fitRows: number[] = [];
    const outRows: number[] = [];
    inner.forEach((h, i) => (h === g ? outRows : fitRows).push(i));
    const model = fitLogistic(
      fitRows.map((i) => X[i] as readonly number[]),
      fitRows.map((i) => y[i] as number),
      { l2 },
    );
    for (const i of outRows) logits[i] = logit(model, X[i] as readonly number[]);
  }
  return fitPlatt(logits, y);
}

/** The linear predictor β₀ + xᵀβ (the model's log-odds), not squashed: Platt's input. */
function logit(model: Pick<LogisticModel, 'intercept' | 'coefficients'>, row: readonly number[]): number {
  let eta = model.intercept;
  model.coefficients.forEach((b, j) => (eta += b * (row[j] as number)));
  return eta;
}

export type Signal = { feature: string; coefficient: number; standardized: number };

/**
 * The strongest signals of a model fitted on all rows: coefficients per standard deviation of
 * their column (comparable across columns), largest first. Descriptive only; the metrics come
 * from the cross-validation.
 */
export function strongestSignals(
  X: readonly (readonly number[])[],
  y: readonly number[],
  features: readonly string[],
  opts: { l2?: number; top?: number } = {},
): Signal[] {
  const model = fitLogistic(X, y, { l2: opts.l2 ?? 1 });
  const n = X.length;
  return features
    .map((feature, j) => {
      let mean = 0;
      for (const row of X) mean += row[j] as number;
      mean /= n;
      let ss = 0;
      for (const row of X) ss += ((row[j] as number) - mean) ** 2;
      const coefficient = model.coefficients[j] as number;
      return { feature, coefficient, standardized: coefficient * Math.sqrt(ss / n) };
    })
    .filter((s) => s.standardized !== 0)
    .sort((a, b) => Math.abs(b.standardized) - Math.abs(a.standardized))
    .slice(0, opts.top ?? 8);
}

/**
 * Features that on their own rank the label almost perfectly (single-feature ROC AUC, either
 * direction, ≥ `threshold`): in a churn export that is nearly always a leak — a field filled in
 * after the outcome (cancellation date, "churn reason", final invoice) — not a discovery.
 */
export function leakSuspects(
  X: readonly (readonly number[])[],
  y: readonly number[],
  features: readonly string[],
  threshold = 0.98,
): { feature: string; auc: number }[] {
  const suspects: { feature: string; auc: number }[] = [];
  features.forEach((feature, j) => {
    const column = X.map((row) => row[j] as number);
    const auc = rocAuc(y, column);
    const strength = Math.max(auc, 1 - auc);
    if (strength >= threshold) suspects.push({ feature, auc: strength });
  });
  return suspects.sort((a, b) => b.auc - a.auc);
}
