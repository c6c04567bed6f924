import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { adjustedRandIndex, kmeans, nearestCentroid, silhouetteScore } from '../../../src/stats/kmeans.ts';
import { fitPca2d, projectPca } from '../../../src/stats/pca.ts';
import { createRandom } from '../../../src/stats/random.ts';

function blobs(seed: number): { points: number[][]; truth: number[]; centres: number[][] } {
  const random = createRandom(seed);
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  const points: number[][] = [];
  const truth: number[] = [];
  for (let i = 0; i < 300; i++) {
    const c = i % 3;
    const centre = centres[c] as number[];
    points.push([(centre[0] as number) + random() - 0.5, (centre[1] as number) + random() - 0.5]);
    truth.push(c);
  }
  return { points, truth, centres };
}

describe('seeded k-means (k-means++)', () => {
  it('hand case: [0], [1], [10], [11] with k = 2 → centroids 0.5 and 10.5, inertia 1', () => {
    const result = kmeans([[0], [1], [10], [11]], 2, { seed: 1 });
    const centroids = result.centroids.map((c) => c[0] as number).sort((a, b) => a - b);
    expect(centroids).toEqual([0.5, 10.5]);
    expect(result.inertia).toBeCloseTo(1, 12);
    expect(result.converged).toBe(true);
    expect(result.assignments[0]).toBe(result.assignments[1]);
    expect(result.assignments[2]).toBe(result.assignments[3]);
    expect(result.assignments[0]).not.toBe(result.assignments[2]);
  });

  it('recovers well-separated clusters: every cluster pure, centroids at the true centres', () => {
    const { points, truth, centres } = blobs(4);
    const result = kmeans(points, 3, { seed: 42 });
    for (let c = 0; c < 3; c++) {
      const members = truth.filter((_, i) => result.assignments[i] === c);
      expect(members).toHaveLength(100);
      expect(new Set(members).size).toBe(1);
      const centre = centres[members[0] as number] as number[];
      const centroid = result.centroids[c] as number[];
      expect(Math.hypot((centroid[0] as number) - (centre[0] as number), (centroid[1] as number) - (centre[1] as number))).toBeLessThan(0.15);
    }
    expect(nearestCentroid(result.centroids, [9.8, 0.1])).toBe(result.assignments[1]);
  });

  it('is deterministic for a seed', () => {
    const random = createRandom(8);
    const points = Array.from({ length: 200 }, () => [random(), random(), random()]); // no real structure
    const a = kmeans(points, 4, { seed: 123 });
    const b = kmeans(points, 4, { seed: 123 });
    expect(b).toEqual(a);
    expect(kmeans(points, 4, { seed: 123, restarts: 1 })).toEqual(kmeans(points, 4, { seed: 123, restarts: 1 }));
  });

  it('handles degenerate input: k = n gives inertia 0; fewer distinct points than k does not crash', () => {
    expect(kmeans([[1], [2], [3]], 3, { seed: 2 }).inertia).toBe(0);
    const same = kmeans([[5, 5], [5, 5], [5, 5]], 2, { seed: 2 });
    expect(same.inertia).toBe(0);
    expect(same.assignments).toHaveLength(3);
  });

  it('rejects bad input clearly', () => {
    expect(() => kmeans([[1]], 2)).toThrow(/at least k = 2 points/);
    expect(() => kmeans([[1]], 0)).toThrow(/positive integer/);
    expect(() => kmeans([[1], [2, 3]], 1)).toThrow(/point 1 has 2 coordinates/);
    expect(() => kmeans([[1], [Number.NaN]], 1)).toThrow(/non-finite/);
  });
});

describe('cluster quality: adjusted Rand index and silhouette', () => {
  it('ARI matches sklearn\'s documented examples', () => {
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 1])).toBe(1);
    expect(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0])).toBe(1);
    expect(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1])).toBeCloseTo(0.5714285714285715, 12);
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(0.5714285714285715, 12);
    expect(adjustedRandIndex([0, 0, 0, 0], [0, 1, 2, 3])).toBe(0);
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(-0.5, 12);
    expect(() => adjustedRandIndex([0], [0, 1])).toThrow(/length mismatch/);
  });

  it('silhouette on [0], [1], [10], [11]: mean of (10.5 − 1)/10.5 and (9.5 − 1)/9.5', () => {
    const s = silhouetteScore([[0], [1], [10], [11]], [0, 0, 1, 1]);
    expect(s).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 12);
    expect(silhouetteScore([[0], [1], [10]], [0, 0, 1])).toBeCloseTo((9 / 10 + 8 / 9) / 3, 12); // singleton scores 0
    expect(() => silhouetteScore([[0], [1]], [0, 0])).toThrow(/2 ≤ clusters/);
  });

  it('k-means on well-separated blobs is stable across seeds (ARI 1) with a high silhouette', () => {
    const { points, truth } = blobs(6);
    const a = kmeans(points, 3, { seed: 1 });
    const b = kmeans(points, 3, { seed: 99 });
    expect(adjustedRandIndex(a.assignments, b.assignments)).toBe(1);
    expect(adjustedRandIndex(a.assignments, truth)).toBe(1);
    expect(silhouetteScore(points, a.assignments)).toBeGreaterThan(0.8);
  });
});

describe('2-D PCA', () => {
  it('points on the line y = 2x: one component along (1, 2)/√5 carries all the variance (unscaled)', () => {
    const rows = [-2, -1, 0, 1, 3].map((t) => [t, 2 * t]);
    const pca = fitPca2d(rows, { standardize: false });
    expect(pca.components[0][0]).toBeCloseTo(1 / Math.sqrt(5), 10);
    expect(pca.components[0][1]).toBeCloseTo(2 / Math.sqrt(5), 10);
    expect(pca.explainedVarianceRatio[0]).toBeCloseTo(1, 10);
    expect(pca.explainedVarianceRatio[1]).toBeCloseTo(0, 10);
    // projection = distance along the line from the mean
    const mean = 0.2;
    pca.projections.forEach(([x], i) => expect(x).toBeCloseTo((([-2, -1, 0, 1, 3][i] as number) - mean) * Math.sqrt(5), 10));
    // standardised, the same line is the diagonal (1, 1)/√2
    const scaled = fitPca2d(rows);
    expect(scaled.components[0][0]).toBeCloseTo(Math.SQRT1_2, 10);
    expect(scaled.components[0][1]).toBeCloseTo(Math.SQRT1_2, 10);
  });

  it('matches the eigen-decomposition of the correlation matrix on random correlated data', () => {
    const random = createRandom(21);
    const rows = Array.from({ length: 200 }, () => {
      const a = random();
      const b = random();
      return [a * 1000, a + 0.5 * b, b - 0.3 * a, random()];
    });
    const pca = fitPca2d(rows);
    const z = new Matrix(rows.map((r) => r.map((v, j) => (v - (pca.mean[j] as number)) / (pca.scale[j] as number))));
    const covariance = z.transpose().mmul(z).div(rows.length - 1);
    const eig = new EigenvalueDecomposition(covariance);
    const values = [...eig.realEigenvalues].sort((a, b) => b - a);
    expect(pca.explainedVariance[0]).toBeCloseTo(values[0] as number, 8);
    expect(pca.explainedVariance[1]).toBeCloseTo(values[1] as number, 8);
    const total = values.reduce((s, v) => s + v, 0);
    expect(pca.explainedVarianceRatio[0]).toBeCloseTo((values[0] as number) / total, 8);
    // unit length, orthogonal, largest loading positive
    const [c0, c1] = pca.components;
    const dot = (u: number[], v: number[]): number => u.reduce((s, x, i) => s + x * (v[i] as number), 0);
    expect(dot(c0, c0)).toBeCloseTo(1, 10);
    expect(dot(c1, c1)).toBeCloseTo(1, 10);
    expect(dot(c0, c1)).toBeCloseTo(0, 10);
    for (const c of [c0, c1]) expect(c.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0)).toBeGreaterThan(0);
    expect(projectPca(pca, rows[7] as number[])).toEqual(pca.projections[7]);
  });

  it('works with fewer rows than columns and rejects bad input', () => {
    const pca = fitPca2d([
      [1, 2, 3, 4, 5],
      [2, 1, 0, 4, 1],
      [0, 0, 1, 1, 9],
    ]);
    expect(pca.explainedVarianceRatio[0] + pca.explainedVarianceRatio[1]).toBeCloseTo(1, 10);
    expect(pca.projections.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y))).toBe(true);
    expect(() => fitPca2d([[1, 2]])).toThrow(/at least 2 rows/);
    expect(() => fitPca2d([[1, 2], [3]])).toThrow(/row 1 has 1 values/);
  });
});
