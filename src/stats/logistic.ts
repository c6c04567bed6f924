/**
 * Binary logistic regression fitted by Newton's method (IRLS) on ml-matrix, with an intercept,
 * an optional L2 penalty and optional standardisation.
 *
 * Why our own instead of ml-logistic-regression: that package is fixed-step gradient ascent with
 * no intercept, no penalty and no convergence test (see its source in node_modules/ml-logistic-regression). Newton
 * converges in a handful of iterations, reproduces R's glm to 1e-6, and its inverse Hessian
 * gives the standard errors.
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { sigmoid, softplus } from './special.ts';

export type LogisticOptions = {
  /**
   * L2 penalty λ: the fit maximises log-likelihood − λ/2 · Σⱼ βⱼ² over the non-intercept
   * coefficients, on the standardised scale when `standardize` is on (default 0: plain MLE).
   */
  l2?: number;
  /** z-score the columns before fitting; coefficients are reported on the original scale (default true) */
  standardize?: boolean;
  /** Newton iteration cap (default 50; separated data needs it, regular data stops after ~6) */
  maxIterations?: number;
  /** stop when |D − D_prev| / (|D| + 0.1) falls below this, D the penalised deviance (R's glm rule; default 1e-10) */
  tolerance?: number;
  /**
   * Sign constraints, one per column: +1 = coefficient ≥ 0, −1 = ≤ 0, 0 = fixed at 0, null = free.
   * Fitted by an active set (Lawson & Hanson's NNLS strategy applied to the penalised likelihood):
   * the worst violator is pinned at 0 and the rest refitted, then a pinned column whose gradient
   * points into its allowed side is released, until neither happens (the KKT conditions hold).
   */
  signs?: readonly (1 | -1 | 0 | null)[];
};

export type LogisticModel = {
  intercept: number;
  /** one per input column, on the original (unstandardised) scale */
  coefficients: number[];
  interceptStandardError: number;
  /**
   * from the inverse (penalised) Hessian; equal to glm's when l2 = 0. +Infinity for a constant
   * column, whose coefficient is not identifiable and is set to 0 (R reports NA there).
   */
  standardErrors: number[];
  /** −2 · log-likelihood at the fit (the residual deviance for 0/1 labels), without the penalty */
  deviance: number;
  /** deviance of the intercept-only model */
  nullDeviance: number;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
  /**
   * some fitted probabilities are within 1e-10 of 0 or 1 (glm's "fitted probabilities numerically
   * 0 or 1" warning), or the labels hold one class only: the data are (quasi-)separated and the
   * coefficients are not finite estimates; add an L2 penalty (one class: nothing to fit)
   */
  separation: boolean;
  l2: number;
  predictProba(rows: readonly (readonly number[])[]): number[];
};

const SEPARATION_LOGIT = 23;

/**
 * Fits P(y = 1 | x) = σ(β₀ + xᵀβ) by Newton/IRLS with step halving, as R's glm(family = binomial)
 * (UCLA admissions: coefficients to 1e-6, residual deviance 458.5175). Labels are 0/1 (fractions in
 * [0, 1] are accepted, e.g. for Platt). Non-convergence and separation come back as flags.
 */
export function fitLogistic(
  X: readonly (readonly number[])[],
  y: readonly number[],
  options: LogisticOptions = {},
): LogisticModel {
  return options.signs === undefined ? fitFree(X, y, options) : fitSigned(X, y, options, options.signs);
}

function fitSigned(
  X: readonly (readonly number[])[],
  y: readonly number[],
  options: LogisticOptions,
  signs: readonly (1 | -1 | 0 | null)[],
): LogisticModel {
  const k = X.length > 0 ? (X[0] as readonly number[]).length : 0;
  if (signs.length !== k) throw new RangeError(`fitLogistic: ${signs.length} signs for ${k} columns`);
  const pinned = new Set<number>();
  signs.forEach((s, j) => {
    if (s === 0) pinned.add(j);
  });
  // A pinned column is fed as zeros: constant columns are left out of the fit, so its coefficient is exactly 0.
  const masked = () => (pinned.size === 0 ? X : X.map((row) => row.map((v, j) => (pinned.has(j) ? 0 : v))));
  const sd = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let m = 0;
    for (const row of X) m += row[j] as number;
    m /= Math.max(1, X.length);
    let v = 0;
    for (const row of X) v += ((row[j] as number) - m) ** 2;
    sd[j] = Math.sqrt(v / Math.max(1, X.length));
  }
  let model = fitFree(masked(), y, options);
  for (let round = 0; round < 4 * k + 4; round++) {
    // the worst violation on the standardised scale (coefficient × sd)
    let worst = -1;
    let worstBy = 1e-9;
    model.coefficients.forEach((c, j) => {
      const s = signs[j];
      if (s === null || s === 0 || s === undefined || pinned.has(j)) return;
      const by = -s * c * (sd[j] as number);
      if (by > worstBy) {
        worst = j;
        worstBy = by;
      }
    });
    if (worst >= 0) {
      pinned.add(worst);
      model = fitFree(masked(), y, options);
      continue;
    }
    // KKT for pinned columns: release the one whose likelihood gradient points most into its allowed side.
    const p = model.predictProba(X);
    let release = -1;
    let releaseBy = 1e-6 * X.length;
    for (const j of pinned) {
      const s = signs[j];
      if (s === 0 || s === null || s === undefined || !((sd[j] as number) > 0)) continue;
      let g = 0;
      for (let i = 0; i < X.length; i++) g += ((y[i] as number) - (p[i] as number)) * ((X[i] as readonly number[])[j] as number);
      const by = (s * g) / (sd[j] as number);
      if (by > releaseBy) {
        release = j;
        releaseBy = by;
      }
    }
    if (release < 0) break;
    pinned.delete(release);
    model = fitFree(masked(), y, options);
  }
  return model;
}

function fitFree(
  X: readonly (readonly number[])[],
  y: readonly number[],
  options: LogisticOptions,
): LogisticModel {
  const l2 = options.l2 ?? 0;
  const standardize = options.standardize ?? true;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-10;
  const n = X.length;
  if (n === 0) throw new RangeError('fitLogistic needs at least one row');
  if (y.length !== n) throw new RangeError(`fitLogistic: ${n} rows but ${y.length} labels`);
  if (!(l2 >= 0)) throw new RangeError(`fitLogistic: l2 must be ≥ 0, got ${l2}`);
  const k = (X[0] as readonly number[]).length;

  // Column centring/scaling; constant columns are left out of the fit (they only duplicate the intercept).
  const center = new Float64Array(k);
  const scale = new Float64Array(k).fill(1);
  const sumSq = new Float64Array(k);
  let ySum = 0;
  X.forEach((row, i) => {
    if (row.length !== k) throw new RangeError(`fitLogistic: row ${i} has ${row.length} values, expected ${k}`);
    for (let j = 0; j < k; j++) {
      const v = row[j] as number;
      if (!Number.isFinite(v)) throw new RangeError(`fitLogistic: row ${i}, column ${j} is ${v}`);
      center[j] = (center[j] as number) + v;
    }
    const label = y[i] as number;
    if (!(label >= 0 && label <= 1)) throw new RangeError(`fitLogistic: label ${i} is ${label}, expected 0 or 1`);
    ySum += label;
  });
  for (let j = 0; j < k; j++) center[j] = (center[j] as number) / n;
  for (const row of X) {
    for (let j = 0; j < k; j++) {
      const d = (row[j] as number) - (center[j] as number);
      sumSq[j] = (sumSq[j] as number) + d * d;
    }
  }
  const active: number[] = [];
  for (let j = 0; j < k; j++) {
    const sd = Math.sqrt((sumSq[j] as number) / n);
    // Relative threshold: a column equal to a constant up to rounding is constant.
    if (sd > 1e-12 * (1 + Math.abs(center[j] as number))) {
      active.push(j);
      if (standardize) scale[j] = sd;
    }
  }
  if (!standardize) center.fill(0);

  const p = active.length + 1;
  const Z = new Float64Array(n * p);
  X.forEach((row, i) => {
    Z[i * p] = 1;
    active.forEach((j, c) => {
      Z[i * p + c + 1] = ((row[j] as number) - (center[j] as number)) / (scale[j] as number);
    });
  });

  const yMean = ySum / n;
  const beta = new Float64Array(p);
  beta[0] = Math.log((yMean + 0.5 / n) / (1 - yMean + 0.5 / n));
  const eta = new Float64Array(n);

  const penalisedDeviance = (b: Float64Array): number => {
    let dev = 0;
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let c = 0; c < p; c++) e += (Z[i * p + c] as number) * (b[c] as number);
      eta[i] = e;
      const label = y[i] as number;
      // −log p = softplus(−η), −log(1 − p) = softplus(η): finite for any η.
      dev += 2 * (label * softplus(-e) + (1 - label) * softplus(e));
    }
    let pen = 0;
    for (let c = 1; c < p; c++) pen += (b[c] as number) * (b[c] as number);
    return dev + l2 * pen;
  };

  const hessian = (): Matrix => {
    const H = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      const e = eta[i] as number;
      const w = sigmoid(e) * sigmoid(-e);
      for (let c = 0; c < p; c++) {
        const zc = (Z[i * p + c] as number) * w;
        for (let d = 0; d <= c; d++) H[c * p + d] = (H[c * p + d] as number) + zc * (Z[i * p + d] as number);
      }
    }
    const M = new Matrix(p, p);
    for (let c = 0; c < p; c++) {
      for (let d = 0; d <= c; d++) {
        const v = (H[c * p + d] as number) + (c === d && c > 0 ? l2 : 0);
        M.set(c, d, v);
        M.set(d, c, v);
      }
    }
    return M;
  };

  let deviance = penalisedDeviance(beta);
  let iterations = 0;
  let converged = false;
  const candidate = new Float64Array(p);
  while (iterations < maxIterations) {
    iterations++;
    const gradient = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      const r = (y[i] as number) - sigmoid(eta[i] as number);
      for (let c = 0; c < p; c++) gradient[c] = (gradient[c] as number) + (Z[i * p + c] as number) * r;
    }
    for (let c = 1; c < p; c++) gradient[c] = (gradient[c] as number) - l2 * (beta[c] as number);
    const step = solveSymmetric(hessian(), Matrix.columnVector(Array.from(gradient)));

    // Step halving (as glm does) keeps every iteration a descent step, even far from the optimum.
    let t = 1;
    let next = Number.POSITIVE_INFINITY;
    for (let halvings = 0; halvings < 40; halvings++, t /= 2) {
      for (let c = 0; c < p; c++) candidate[c] = (beta[c] as number) + t * step.get(c, 0);
      next = penalisedDeviance(candidate);
      if (next <= deviance + 1e-12 * Math.abs(deviance)) break;
    }
    if (!(next <= deviance + 1e-12 * Math.abs(deviance))) {
      penalisedDeviance(beta); // no descent direction left: we are at the optimum numerically
      converged = true;
      break;
    }
    beta.set(candidate);
    const change = Math.abs(next - deviance) / (Math.abs(next) + 0.1);
    deviance = next;
    if (change < tolerance) {
      converged = true;
      break;
    }
  }
  // eta now holds the linear predictor at `beta`.

  let logLikelihood = 0;
  // One class only: the (unpenalised) intercept has no finite MLE, whatever the penalty.
  let separation = ySum === 0 || ySum === n;
  for (let i = 0; i < n; i++) {
    const e = eta[i] as number;
    const label = y[i] as number;
    logLikelihood -= label * softplus(-e) + (1 - label) * softplus(e);
    // |η| > 23 ⇔ p within 1e-10 of 0 or 1: Newton only gets there when the MLE runs off to infinity.
    if (Math.abs(e) > SEPARATION_LOGIT) separation = true;
  }

  // Back to the original scale: β_orig = M · β_std, Cov_orig = M · Cov · Mᵀ.
  const covariance = invertSymmetric(hessian());
  const transform = new Matrix(k + 1, p);
  transform.set(0, 0, 1);
  active.forEach((j, c) => {
    transform.set(0, c + 1, -(center[j] as number) / (scale[j] as number));
    transform.set(j + 1, c + 1, 1 / (scale[j] as number));
  });
  const betaOrig = transform.mmul(Matrix.columnVector(Array.from(beta)));
  const covOrig = transform.mmul(covariance).mmul(transform.transpose());
  const se = (i: number): number => Math.sqrt(Math.max(0, covOrig.get(i, i)));
  const isActive = new Set(active);

  const nullDeviance =
    yMean <= 0 || yMean >= 1
      ? 0
      : -2 * (ySum * Math.log(yMean) + (n - ySum) * Math.log(1 - yMean));

  const model: LogisticModel = {
    intercept: betaOrig.get(0, 0),
    coefficients: Array.from({ length: k }, (_, j) => betaOrig.get(j + 1, 0)),
    interceptStandardError: se(0),
    standardErrors: Array.from({ length: k }, (_, j) => (isActive.has(j) ? se(j + 1) : Number.POSITIVE_INFINITY)),
    deviance: -2 * logLikelihood,
    nullDeviance,
    logLikelihood,
    iterations,
    converged,
    separation,
    l2,
    predictProba: (rows) => predictLogistic(model, rows),
  };
  return model;
}

/** P(y = 1) = σ(β₀ + xᵀβ) for one row under a fitted model; allocation-free, for per-contact scoring. */
export function predictLogisticRow(
  model: Pick<LogisticModel, 'intercept' | 'coefficients'>,
  row: ArrayLike<number>,
): number {
  const { coefficients } = model;
  let eta = model.intercept;
  for (let j = 0; j < coefficients.length; j++) eta += (coefficients[j] as number) * (row[j] as number);
  if (Number.isNaN(eta)) throw new RangeError('predictLogistic: the row has a missing or non-numeric value');
  return sigmoid(eta);
}

/** P(y = 1) = σ(β₀ + xᵀβ) for each row under a fitted model. */
export function predictLogistic(
  model: Pick<LogisticModel, 'intercept' | 'coefficients'>,
  rows: readonly (readonly number[])[],
): number[] {
  return rows.map((row) => predictLogisticRow(model, row));
}

// Cholesky when the Hessian is positive definite (always, with an L2 penalty). A tiny ridge
// rescues the rank-deficient case (collinear columns without a penalty): the step stays finite
// and the unidentifiable directions show up as huge standard errors, not NaN.
function solveSymmetric(H: Matrix, b: Matrix): Matrix {
  return choleskyOf(H).solve(b);
}

function invertSymmetric(H: Matrix): Matrix {
  return choleskyOf(H).solve(Matrix.eye(H.rows));
}

function choleskyOf(H: Matrix): CholeskyDecomposition {
  const chol = new CholeskyDecomposition(H);
  if (chol.isPositiveDefinite()) return chol;
  let maxDiag = 0;
  for (let i = 0; i < H.rows; i++) maxDiag = Math.max(maxDiag, Math.abs(H.get(i, i)));
  if (Number.isFinite(maxDiag)) {
    for (let ridge = 1e-10 * (1 + maxDiag); ridge <= 1e-2 * (1 + maxDiag); ridge *= 10) {
      const ridged = H.clone();
      for (let i = 0; i < H.rows; i++) ridged.set(i, i, H.get(i, i) + ridge);
      const retry = new CholeskyDecomposition(ridged);
      if (retry.isPositiveDefinite()) return retry;
    }
  }
  throw new Error('fitLogistic: the Hessian is not positive definite even with a ridge; the design matrix is degenerate');
}
