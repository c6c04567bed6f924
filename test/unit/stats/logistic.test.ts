import { createRequire } from 'node:module';
import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { fitLogistic, predictLogistic, predictLogisticRow } from '../../../src/stats/logistic.ts';
import { loadUclaAdmissions } from '../../support/reference-data.ts';

// glm(admit ~ gre + gpa + factor(rank), family = binomial) on ucla_admissions/binary.csv (README there).
const GLM = {
  coefficients: [-3.989979, 0.002264, 0.804038, -0.675443, -1.340204, -1.551464],
  standardErrors: [1.139951, 0.001094, 0.331819, 0.31649, 0.345306, 0.417832],
  nullDeviance: 499.98,
  deviance: 458.5175,
  aic: 470.52,
  logLikelihood: -229.2587,
  // UCLA "newdata1": mean gre 587.7, mean gpa 3.3899, rank 1..4
  probabilityByRank: [0.5166016, 0.3522846, 0.218612, 0.1846684],
};

function uclaDesign(): { X: number[][]; y: number[] } {
  const rows = loadUclaAdmissions();
  return {
    X: rows.map((r) => [r.gre, r.gpa, r.rank === 2 ? 1 : 0, r.rank === 3 ? 1 : 0, r.rank === 4 ? 1 : 0]),
    y: rows.map((r) => r.admit),
  };
}

const atMeans = [0, 1, 2, 3].map((k) => [587.7, 3.3899, k === 1 ? 1 : 0, k === 2 ? 1 : 0, k === 3 ? 1 : 0]);

describe('fitLogistic on the UCLA admissions data (R glm reference)', () => {
  const { X, y } = uclaDesign();

  it('has the data the reference was computed on', () => {
    expect(X).toHaveLength(400);
    expect(y.reduce((s, v) => s + v, 0)).toBe(127);
  });

  for (const standardize of [true, false]) {
    it(`reproduces glm's coefficients, standard errors and deviances (standardize: ${standardize})`, () => {
      const model = fitLogistic(X, y, { standardize });
      expect(model.converged).toBe(true);
      expect(model.separation).toBe(false);
      expect(model.iterations).toBeLessThan(10);
      const coefficients = [model.intercept, ...model.coefficients];
      coefficients.forEach((c, i) => expect(Math.abs(c - (GLM.coefficients[i] as number))).toBeLessThan(1e-5));
      const ses = [model.interceptStandardError, ...model.standardErrors];
      ses.forEach((se, i) => expect(Math.abs(se - (GLM.standardErrors[i] as number))).toBeLessThan(1e-5));
      expect(model.deviance).toBeCloseTo(GLM.deviance, 3);
      expect(Math.abs(model.nullDeviance - GLM.nullDeviance)).toBeLessThan(0.005);
      expect(Math.abs(model.deviance + 2 * 6 - GLM.aic)).toBeLessThan(0.005);
      expect(model.logLikelihood).toBeCloseTo(GLM.logLikelihood, 4);
    });
  }

  it('predicts the published probabilities by rank at the mean gre and gpa', () => {
    const model = fitLogistic(X, y);
    const probabilities = model.predictProba(atMeans);
    probabilities.forEach((p, i) => expect(Math.abs(p - (GLM.probabilityByRank[i] as number))).toBeLessThan(1e-6));
    expect(predictLogistic(model, atMeans)).toEqual(probabilities);
    expect(predictLogisticRow(model, atMeans[0] as number[])).toBe(probabilities[0]);
  });

  it('agrees with ml-logistic-regression where that package converges (standardised inputs, intercept column)', () => {
    // ml-logistic-regression 2.0.0 (its source in node_modules): the package is plain gradient ascent without an intercept; it reaches the glm
    // optimum only on standardised columns. η = 0.01 is inside its stability bound for n = 400.
    const require = createRequire(import.meta.url);
    type TwoClass = { testScores(X: Matrix): number[] };
    type MlLogisticRegression = new (o: { numSteps: number; learningRate: number }) => {
      train(X: Matrix, Y: Matrix): void;
      classifiers: TwoClass[];
    };
    const LogisticRegression = require('ml-logistic-regression') as MlLogisticRegression;
    const mean = (j: number): number => X.reduce((s, r) => s + (r[j] as number), 0) / X.length;
    const sd = (j: number): number => Math.sqrt(X.reduce((s, r) => s + ((r[j] as number) - mean(j)) ** 2, 0) / X.length);
    const [m0, m1, s0, s1] = [mean(0), mean(1), sd(0), sd(1)];
    const design = (rows: number[][]): Matrix =>
      new Matrix(rows.map((r) => [1, ((r[0] as number) - m0) / s0, ((r[1] as number) - m1) / s1, ...r.slice(2)]));
    const reference = new LogisticRegression({ numSteps: 1500, learningRate: 0.01 });
    reference.train(design(X), Matrix.columnVector(y));
    // For 0/1 labels classifiers[0] is trained on "not class 0", i.e. it scores P(y = 1).
    const theirs = (reference.classifiers[0] as TwoClass).testScores(design(X));
    const ours = fitLogistic(X, y).predictProba(X);
    ours.forEach((p, i) => expect(Math.abs(p - (theirs[i] as number))).toBeLessThan(1e-6));
    const theirsAtMeans = (reference.classifiers[0] as TwoClass).testScores(design(atMeans));
    theirsAtMeans.forEach((p, i) => expect(Math.abs(p - (GLM.probabilityByRank[i] as number))).toBeLessThan(1e-6));

    // …and on the raw columns it runs away where IRLS converges to the same optimum.
    const raw = new LogisticRegression({ numSteps: 200, learningRate: 5e-4 });
    raw.train(new Matrix(X.map((r) => [1, ...r])), Matrix.columnVector(y));
    const rawP = (raw.classifiers[0] as TwoClass).testScores(new Matrix(X.map((r) => [1, ...r])));
    const rawDeviance = -2 * rawP.reduce((s, p, i) => s + (y[i] === 1 ? Math.log(p) : Math.log(1 - p)), 0);
    expect(Number.isFinite(rawDeviance) && rawDeviance < 470).toBe(false);
    expect(fitLogistic(X, y, { standardize: false }).deviance).toBeCloseTo(GLM.deviance, 3);
  });

  it('an L2 penalty shrinks the coefficients and satisfies the penalised score equations', () => {
    const plain = fitLogistic(X, y);
    const lambdas = [1, 10, 100];
    const sds = [0, 1, 2, 3, 4].map((j) => {
      const m = X.reduce((s, r) => s + (r[j] as number), 0) / X.length;
      return Math.sqrt(X.reduce((s, r) => s + ((r[j] as number) - m) ** 2, 0) / X.length);
    });
    const norm = (coefficients: number[]): number =>
      Math.hypot(...coefficients.map((c, j) => c * (sds[j] as number)));
    let previous = norm(plain.coefficients);
    for (const l2 of lambdas) {
      const model = fitLogistic(X, y, { l2 });
      expect(model.converged).toBe(true);
      expect(model.l2).toBe(l2);
      expect(model.deviance).toBeGreaterThan(plain.deviance);
      const current = norm(model.coefficients);
      expect(current).toBeLessThan(previous);
      previous = current;
      // Stationarity: Σ (y − p) = 0 (free intercept) and Σ (y − p)·x_j = λ · sd_j² · β_j on the raw scale.
      const p = model.predictProba(X);
      const residual = y.map((v, i) => v - (p[i] as number));
      expect(Math.abs(residual.reduce((s, r) => s + r, 0))).toBeLessThan(1e-8);
      model.coefficients.forEach((beta, j) => {
        const score = residual.reduce((s, r, i) => s + r * ((X[i] as number[])[j] as number), 0);
        const expected = l2 * (sds[j] as number) ** 2 * beta;
        expect(Math.abs(score - expected)).toBeLessThan(1e-6 * (1 + Math.abs(expected)));
      });
    }
  });
});

describe('fitLogistic on hard data: flags, never NaN', () => {
  const x = [[1], [2], [3], [4], [5], [6]];
  const separated = [0, 0, 0, 1, 1, 1];

  it('reports complete separation (as glm warns) with finite coefficients and probabilities', () => {
    const model = fitLogistic(x, separated);
    expect(model.separation).toBe(true);
    expect(Number.isFinite(model.intercept)).toBe(true);
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
    expect(model.coefficients[0]).toBeGreaterThan(5);
    const p = model.predictProba(x);
    expect(p.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(model.deviance).toBeLessThan(1e-6);
  });

  it('an L2 penalty gives a proper finite fit on separated data', () => {
    const model = fitLogistic(x, separated, { l2: 1 });
    expect(model.converged).toBe(true);
    expect(model.separation).toBe(false);
    const p = model.predictProba(x);
    expect(p[0]).toBeLessThan(0.5);
    expect(p[5]).toBeGreaterThan(0.5);
    expect(p.every((v) => v > 0.01 && v < 0.99)).toBe(true);
  });

  it('reports non-convergence when the iteration budget runs out', () => {
    const { X, y } = uclaDesign();
    const model = fitLogistic(X, y, { maxIterations: 1 });
    expect(model.converged).toBe(false);
    expect(model.iterations).toBe(1);
    expect(Number.isFinite(model.deviance)).toBe(true);
  });

  it('one class only: separation flagged, probabilities pinned near that class, no NaN', () => {
    const model = fitLogistic(x, [0, 0, 0, 0, 0, 0]);
    expect(model.separation).toBe(true);
    expect(model.nullDeviance).toBe(0);
    expect(model.predictProba(x).every((p) => p >= 0 && p < 1e-6)).toBe(true);
  });

  it('a constant column gets coefficient 0 and an infinite standard error; the rest is unchanged', () => {
    const { X, y } = uclaDesign();
    const withConstant = X.map((r) => [...r, 7]);
    const model = fitLogistic(withConstant, y);
    const reference = fitLogistic(X, y);
    expect(model.coefficients[5]).toBe(0);
    expect(model.standardErrors[5]).toBe(Number.POSITIVE_INFINITY);
    model.coefficients.slice(0, 5).forEach((c, j) => expect(c).toBeCloseTo(reference.coefficients[j] as number, 8));
    expect(model.intercept).toBeCloseTo(reference.intercept, 8);
  });

  it('duplicated (collinear) columns without a penalty: finite fit, same predictions', () => {
    const { X, y } = uclaDesign();
    const duplicated = X.map((r) => [...r, r[1] as number]);
    const model = fitLogistic(duplicated, y);
    expect(model.coefficients.every(Number.isFinite)).toBe(true);
    const reference = fitLogistic(X, y).predictProba(X);
    model.predictProba(duplicated).forEach((p, i) => expect(Math.abs(p - (reference[i] as number))).toBeLessThan(1e-6));
  });

  it('rejects bad input with a clear error', () => {
    expect(() => fitLogistic([], [])).toThrow(/at least one row/);
    expect(() => fitLogistic([[1], [2]], [0])).toThrow(/2 rows but 1 labels/);
    expect(() => fitLogistic([[1], [Number.NaN]], [0, 1])).toThrow(/row 1, column 0 is NaN/);
    expect(() => fitLogistic([[1], [2, 3]], [0, 1])).toThrow(/row 1 has 2 values/);
    expect(() => fitLogistic([[1], [2]], [0, 2])).toThrow(/label 1 is 2/);
    expect(() => fitLogistic([[1], [2]], [0, 1], { l2: -1 })).toThrow(/l2 must be ≥ 0/);
    const model = fitLogistic(x, separated, { l2: 1 });
    expect(() => predictLogisticRow(model, [Number.NaN])).toThrow(/missing or non-numeric/);
    expect(() => predictLogisticRow(model, [])).toThrow(/missing or non-numeric/);
  });
});
