/**
 * Two-component PCA for the report's customer map, via the SVD of the centred (and by default
 * standardised) data. Without standardising, the largest-unit column (revenue) would dominate.
 * For visualisation only: a component is not a score.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

export type PcaModel = {
  mean: number[];
  /** the divisor per column: its standard deviation (n − 1), or 1 when not standardising or constant */
  scale: number[];
  /** two unit-length loading vectors; each has its largest-magnitude loading positive, for stable signs */
  components: [number[], number[]];
  /** variance along each component (n − 1 denominator) */
  explainedVariance: [number, number];
  /** share of the total variance of the (scaled) data along each component */
  explainedVarianceRatio: [number, number];
};

/** Fits a 2-component PCA by SVD of the centred, standardised data (as ml-pca with scale: true) and returns it with the rows' 2-D coordinates. */
export function fitPca2d(
  rows: readonly (readonly number[])[],
  options: { standardize?: boolean } = {},
): PcaModel & { projections: [number, number][] } {
  const n = rows.length;
  if (n < 2) throw new RangeError(`PCA needs at least 2 rows, got ${n}`);
  const p = (rows[0] as readonly number[]).length;
  if (p < 1) throw new RangeError('PCA needs at least one column');
  rows.forEach((r, i) => {
    if (r.length !== p) throw new RangeError(`row ${i} has ${r.length} values, expected ${p}`);
  });
  const standardize = options.standardize ?? true;
  const mean = Array.from({ length: p }, (_, j) => rows.reduce((s, r) => s + (r[j] as number), 0) / n);
  const scale = Array.from({ length: p }, (_, j) => {
    if (!standardize) return 1;
    const m = mean[j] as number;
    const sd = Math.sqrt(rows.reduce((s, r) => s + ((r[j] as number) - m) ** 2, 0) / (n - 1));
    return sd > 0 ? sd : 1;
  });
  const data = new Matrix(rows.map((r) => r.map((v, j) => (v - (mean[j] as number)) / (scale[j] as number))));
  const svd = new SingularValueDecomposition(data, { autoTranspose: true, computeLeftSingularVectors: false });
  const V = svd.rightSingularVectors;
  const singular = svd.diagonal;
  const totalSq = singular.reduce((s, d) => s + d * d, 0);

  const component = (c: number): number[] => {
    if (c >= V.columns || c >= singular.length) return new Array<number>(p).fill(0);
    const v = V.getColumn(c);
    const largest = v.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
    return largest < 0 ? v.map((x) => -x) : v;
  };
  const sq = (c: number): number => (singular[c] ?? 0) ** 2;
  const model: PcaModel = {
    mean,
    scale,
    components: [component(0), component(1)],
    explainedVariance: [sq(0) / (n - 1), sq(1) / (n - 1)],
    explainedVarianceRatio: totalSq > 0 ? [sq(0) / totalSq, sq(1) / totalSq] : [0, 0],
  };
  return { ...model, projections: rows.map((r) => projectPca(model, r)) };
}

/** 2-D PCA coordinates of one row under a fitted model (centre, scale, project on the two components). */
export function projectPca(model: PcaModel, row: readonly number[]): [number, number] {
  let x = 0;
  let y = 0;
  const [c0, c1] = model.components;
  for (let j = 0; j < row.length; j++) {
    const z = ((row[j] as number) - (model.mean[j] as number)) / (model.scale[j] as number);
    x += z * (c0[j] as number);
    y += z * (c1[j] as number);
  }
  return [x, y];
}
