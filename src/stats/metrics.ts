/**
 * Evaluation metrics for binary scores (definitions and hand-worked values beside each function). Labels are exactly 0 or 1;
 * a score is any finite number where higher means "more likely positive"; a probability must lie
 * in [0, 1]. Bad input and undefined cases (a metric that needs both classes, given one; a
 * correlation with a constant side) throw a RangeError that says why: never a silent NaN.
 */

/** ROC AUC as the Mann–Whitney statistic: P(score⁺ > score⁻), ties counted as ½ (worked by hand: [0,0,1,1] vs [0.1,0.4,0.35,0.8] → 0.75). */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number {
  checkBinary(labels, scores);
  const ranks = averageRanks(scores);
  let positives = 0;
  let rankSum = 0;
  labels.forEach((label, i) => {
    if (label === 1) {
      positives++;
      rankSum += ranks[i] as number;
    }
  });
  const negatives = labels.length - positives;
  requireBothClasses('rocAuc', positives, negatives);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * PR AUC as average precision (sklearn's definition): AP = Σₙ (Rₙ − Rₙ₋₁) · Pₙ over the distinct
 * score thresholds, highest first, step-wise with no interpolation. Tied scores form one step
 * (https://scikit-learn.org/stable/modules/generated/sklearn.metrics.average_precision_score.html; worked by hand: [0,0,1,1] vs [0.1,0.4,0.35,0.8] → 0.8333).
 */
export function averagePrecision(labels: readonly number[], scores: readonly number[]): number {
  checkBinary(labels, scores);
  const totalPositives = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  if (totalPositives === 0) throw new RangeError('averagePrecision is undefined without a positive label');
  const order = sortedDescending(scores);
  let tp = 0;
  let seen = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i] as number] as number;
    while (i < order.length && scores[order[i] as number] === score) {
      if (labels[order[i] as number] === 1) tp++;
      seen++;
      i++;
    }
    const recall = tp / totalPositives;
    ap += (recall - previousRecall) * (tp / seen);
    previousRecall = recall;
  }
  return ap;
}

/** Brier score: mean (p − y)² (Brier 1950; worked by hand: [0,1,1,0] vs [0.1,0.9,0.8,0.3] → 0.0375). */
export function brierScore(labels: readonly number[], probabilities: readonly number[]): number {
  checkProbabilities(labels, probabilities);
  let sum = 0;
  labels.forEach((y, i) => {
    const d = (probabilities[i] as number) - y;
    sum += d * d;
  });
  return sum / labels.length;
}

/** Log loss: mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15] (sklearn log_loss). */
export function logLoss(labels: readonly number[], probabilities: readonly number[]): number {
  checkProbabilities(labels, probabilities);
  let sum = 0;
  labels.forEach((y, i) => {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i] as number));
    sum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  });
  return sum / labels.length;
}

export type ReliabilityBin = {
  /** bin edges: [lower, upper), the last bin is closed [lower, 1] */
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number;
  observedRate: number;
};

/**
 * Reliability-diagram points (Niculescu-Mizil & Caruana 2005) over `bins` equal-width bins of [0, 1]
 * (default 10). Bin i holds probabilities in [i/bins, (i+1)/bins); p = 1 falls in the last bin.
 * Empty bins are left out.
 */
export function reliabilityCurve(
  labels: readonly number[],
  probabilities: readonly number[],
  bins = 10,
): ReliabilityBin[] {
  checkProbabilities(labels, probabilities);
  if (!(Number.isInteger(bins) && bins > 0)) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const counts = new Float64Array(bins);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  labels.forEach((y, i) => {
    const p = probabilities[i] as number;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    counts[b] = (counts[b] as number) + 1;
    sumP[b] = (sumP[b] as number) + p;
    sumY[b] = (sumY[b] as number) + y;
  });
  const points: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const count = counts[b] as number;
    if (count === 0) continue;
    points.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count,
      meanPredicted: (sumP[b] as number) / count,
      observedRate: (sumY[b] as number) / count,
    });
  }
  return points;
}

/**
 * Expected calibration error: Σ_b (n_b / N) · |mean p_b − mean y_b| over the bins of
 * `reliabilityCurve`: equal-width bins [i/B, (i+1)/B), the last closed, B = 10 by default
 * (Naeini et al. 2015, Guo et al. 2017). ECE depends on the binning, so report it with B.
 */
export function expectedCalibrationError(
  labels: readonly number[],
  probabilities: readonly number[],
  bins = 10,
): number {
  const points = reliabilityCurve(labels, probabilities, bins);
  let ece = 0;
  for (const pt of points) ece += (pt.count / labels.length) * Math.abs(pt.meanPredicted - pt.observedRate);
  return ece;
}

export type Lift = {
  /** positive rate in the top fraction / overall positive rate */
  lift: number;
  /** share of all positives that fall in the top fraction */
  captureRate: number;
  /** rows in the top fraction: ceil(fraction · n) */
  selected: number;
};

/**
 * Lift at the top `fraction` of scores (default 0.1, the top decile): the positive
 * rate among the top ceil(fraction·n) rows by score over the overall positive rate, with the
 * capture rate. Rows tied at the cut count fractionally (each tied row contributes its group's
 * positive share), i.e. the expected value under random tie-breaking, so input order never matters
 * and a constant score has lift exactly 1.
 */
export function liftAtTop(labels: readonly number[], scores: readonly number[], fraction = 0.1): Lift {
  checkBinary(labels, scores);
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`fraction must be in (0, 1], got ${fraction}`);
  const n = labels.length;
  const totalPositives = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  if (totalPositives === 0) throw new RangeError('liftAtTop is undefined without a positive label');
  const selected = Math.ceil(fraction * n);
  const order = sortedDescending(scores);
  let hits = 0;
  let taken = 0;
  for (let i = 0; i < n && taken < selected; ) {
    const score = scores[order[i] as number] as number;
    let groupSize = 0;
    let groupPositives = 0;
    while (i < n && scores[order[i] as number] === score) {
      if (labels[order[i] as number] === 1) groupPositives++;
      groupSize++;
      i++;
    }
    const take = Math.min(groupSize, selected - taken);
    hits += (take * groupPositives) / groupSize;
    taken += take;
  }
  return { lift: hits / selected / (totalPositives / n), captureRate: hits / totalPositives, selected };
}

export type RocPoint = { threshold: number; fpr: number; tpr: number };

/**
 * ROC curve: one point per distinct score (predict positive when score ≥ threshold), preceded by
 * (0, 0) at threshold +Infinity. The trapezoid area under these points equals `rocAuc`.
 */
export function rocCurve(labels: readonly number[], scores: readonly number[]): RocPoint[] {
  checkBinary(labels, scores);
  const positives = labels.reduce((s, l) => s + (l === 1 ? 1 : 0), 0);
  const negatives = labels.length - positives;
  requireBothClasses('rocCurve', positives, negatives);
  const order = sortedDescending(scores);
  const points: RocPoint[] = [{ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i] as number] as number;
    while (i < order.length && scores[order[i] as number] === score) {
      if (labels[order[i] as number] === 1) tp++;
      else fp++;
      i++;
    }
    points.push({
      threshold: score,
      fpr: fp / negatives,
      tpr: tp / positives,
    });
  }
  return points;
}

/** Spearman rank correlation: Pearson correlation of the average ranks (ties share a rank; as scipy.stats.spearmanr). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  checkLengths(a, b);
  checkFinite(a, 'value');
  checkFinite(b, 'value');
  return pearson(averageRanks(a), averageRanks(b));
}

/** Pearson correlation coefficient; throws when either side is constant (it is undefined there). */
export function pearson(a: readonly number[], b: readonly number[]): number {
  checkLengths(a, b);
  checkFinite(a, 'value');
  checkFinite(b, 'value');
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) throw new RangeError('correlation is undefined when one side is constant');
  return sab / Math.sqrt(saa * sbb);
}

/** 1-based ranks, ties given the mean of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(values: readonly number[]): number[] {
  checkFinite(values, 'value');
  const order = values.map((_, i) => i).sort((i, j) => (values[i] as number) - (values[j] as number));
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1] as number] === values[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let m = i; m <= j; m++) ranks[order[m] as number] = rank;
    i = j + 1;
  }
  return ranks;
}

function sortedDescending(scores: readonly number[]): number[] {
  // Array.prototype.sort is stable, so tied scores keep input order.
  return scores.map((_, i) => i).sort((i, j) => (scores[j] as number) - (scores[i] as number));
}

function checkLengths(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  if (a.length === 0) throw new RangeError('metrics need at least one value');
}

function checkFinite(values: readonly number[], what: string): void {
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`${what} ${i} is ${v}, expected a finite number`);
  });
}

function checkLabels(labels: readonly number[]): void {
  labels.forEach((y, i) => {
    if (y !== 0 && y !== 1) throw new RangeError(`label ${i} is ${y}, expected 0 or 1`);
  });
}

function checkBinary(labels: readonly number[], scores: readonly number[]): void {
  checkLengths(labels, scores);
  checkLabels(labels);
  checkFinite(scores, 'score');
}

function checkProbabilities(labels: readonly number[], probabilities: readonly number[]): void {
  checkLengths(labels, probabilities);
  checkLabels(labels);
  probabilities.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`probability ${i} is ${p}, outside [0, 1]`);
  });
}

function requireBothClasses(metric: string, positives: number, negatives: number): void {
  if (positives === 0 || negatives === 0) {
    throw new RangeError(`${metric} is undefined with one class only (${positives} positives, ${negatives} negatives)`);
  }
}
