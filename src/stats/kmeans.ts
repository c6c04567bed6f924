/**
 * Seeded k-means (Lloyd's algorithm with k-means++ seeding and restarts). The same points, k and
 * seed always give the same clusters. Scale the features first (log the skewed counts and spend,
 * then z-score): k-means measures plain Euclidean distance.
 */
import { createRandom, type Random } from './random.ts';

export type KMeansOptions = {
  /** default 1 */
  seed?: number;
  /** independent k-means++ starts; the lowest inertia wins (default 10) */
  restarts?: number;
  /** Lloyd iterations per start (default 300) */
  maxIterations?: number;
  /** stop when no centroid moves more than this (squared distance, default 1e-12) */
  tolerance?: number;
};

export type KMeansResult = {
  centroids: number[][];
  /** cluster index per point */
  assignments: number[];
  /** sum of squared distances to the assigned centroid */
  inertia: number;
  /** Lloyd iterations of the winning start */
  iterations: number;
  converged: boolean;
};

/**
 * k-means clustering (Lloyd 1982) with k-means++ seeding (Arthur & Vassilvitskii 2007) and
 * restarts, keeping the lowest inertia; deterministic for a given seed (Arthur & Vassilvitskii 2007, "k-means++").
 */
export function kmeans(
  points: readonly (readonly number[])[],
  k: number,
  options: KMeansOptions = {},
): KMeansResult {
  const n = points.length;
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (n < k) throw new RangeError(`k-means needs at least k = ${k} points, got ${n}`);
  const dim = (points[0] as readonly number[]).length;
  points.forEach((p, i) => {
    if (p.length !== dim) throw new RangeError(`point ${i} has ${p.length} coordinates, expected ${dim}`);
    if (!p.every(Number.isFinite)) throw new RangeError(`point ${i} has a non-finite coordinate`);
  });
  const random = createRandom(options.seed ?? 1);
  const restarts = Math.max(1, options.restarts ?? 10);
  let best: KMeansResult | undefined;
  for (let s = 0; s < restarts; s++) {
    const run = lloyd(points, seedCentroids(points, k, random), options.maxIterations ?? 300, options.tolerance ?? 1e-12);
    if (!best || run.inertia < best.inertia) best = run;
  }
  return best as KMeansResult;
}

/** Index of the nearest centroid by Euclidean distance (first one on ties), for assigning new points. */
export function nearestCentroid(centroids: readonly (readonly number[])[], point: readonly number[]): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let c = 0; c < centroids.length; c++) {
    const d = squaredDistance(centroids[c] as readonly number[], point);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

/** k-means++ (Arthur & Vassilvitskii 2007): each next centre drawn with probability ∝ D². */
function seedCentroids(points: readonly (readonly number[])[], k: number, random: Random): number[][] {
  const n = points.length;
  const centroids: number[][] = [[...(points[Math.floor(random() * n)] as readonly number[])]];
  const d2 = points.map((p) => squaredDistance(p, centroids[0] as number[]));
  while (centroids.length < k) {
    const total = d2.reduce((s, d) => s + d, 0);
    let chosen = n - 1;
    if (total > 0) {
      let target = random() * total;
      for (let i = 0; i < n; i++) {
        target -= d2[i] as number;
        if (target < 0) {
          chosen = i;
          break;
        }
      }
    } else {
      chosen = Math.floor(random() * n); // fewer distinct points than k: any point will do
    }
    const centre = [...(points[chosen] as readonly number[])];
    centroids.push(centre);
    points.forEach((p, i) => {
      d2[i] = Math.min(d2[i] as number, squaredDistance(p, centre));
    });
  }
  return centroids;
}

function lloyd(
  points: readonly (readonly number[])[],
  centroids: number[][],
  maxIterations: number,
  tolerance: number,
): KMeansResult {
  const n = points.length;
  const k = centroids.length;
  const dim = (points[0] as readonly number[]).length;
  const assignments = new Array<number>(n).fill(0);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations++;
    points.forEach((p, i) => {
      assignments[i] = nearestCentroid(centroids, p);
    });
    const sums = Array.from({ length: k }, () => new Array<number>(dim).fill(0));
    const counts = new Array<number>(k).fill(0);
    points.forEach((p, i) => {
      const c = assignments[i] as number;
      counts[c] = (counts[c] as number) + 1;
      const sum = sums[c] as number[];
      for (let j = 0; j < dim; j++) sum[j] = (sum[j] as number) + (p[j] as number);
    });
    let shift = 0;
    for (let c = 0; c < k; c++) {
      let next: number[];
      if (counts[c] === 0) {
        // An empty cluster takes over the point farthest from its own centroid.
        let far = 0;
        let farDistance = -1;
        points.forEach((p, i) => {
          const d = squaredDistance(p, centroids[assignments[i] as number] as number[]);
          if (d > farDistance) {
            farDistance = d;
            far = i;
          }
        });
        next = [...(points[far] as readonly number[])];
        assignments[far] = c;
      } else {
        next = (sums[c] as number[]).map((s) => s / (counts[c] as number));
      }
      shift = Math.max(shift, squaredDistance(next, centroids[c] as number[]));
      centroids[c] = next;
    }
    if (shift <= tolerance) {
      converged = true;
      break;
    }
  }
  let inertia = 0;
  points.forEach((p, i) => {
    assignments[i] = nearestCentroid(centroids, p);
    inertia += squaredDistance(p, centroids[assignments[i] as number] as number[]);
  });
  return { centroids, assignments, inertia, iterations, converged };
}

function squaredDistance(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const d = (a[j] as number) - (b[j] as number);
    s += d * d;
  }
  return s;
}

/**
 * Adjusted Rand index of two labelings (Hubert & Arabie 1985; as sklearn adjusted_rand_score):
 * 1 for identical partitions up to renaming, ~0 for chance agreement. Use it to check that
 * segments are stable across seeds and bootstrap samples (test/unit/stats/kmeans-pca.test.ts).
 */
export function adjustedRandIndex(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  const n = a.length;
  if (n === 0) throw new RangeError('adjustedRandIndex needs at least one point');
  const pairs = (m: number): number => (m * (m - 1)) / 2;
  const cells = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    cells.set(`${x}|${y}`, (cells.get(`${x}|${y}`) ?? 0) + 1);
    rows.set(x, (rows.get(x) ?? 0) + 1);
    cols.set(y, (cols.get(y) ?? 0) + 1);
  }
  let index = 0;
  for (const c of cells.values()) index += pairs(c);
  let sumRows = 0;
  for (const c of rows.values()) sumRows += pairs(c);
  let sumCols = 0;
  for (const c of cols.values()) sumCols += pairs(c);
  const expected = (sumRows * sumCols) / pairs(n || 1);
  const max = (sumRows + sumCols) / 2;
  // Both partitions trivial (one cluster each, or all singletons): sklearn defines the score as 1.
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}

/**
 * Mean silhouette coefficient (Rousseeuw 1987; as sklearn silhouette_score, Euclidean): per point
 * (b − a) / max(a, b) with a the mean distance to its own cluster and b to the nearest other
 * cluster; points alone in their cluster score 0. O(n²): use a sample for large n.
 */
export function silhouetteScore(points: readonly (readonly number[])[], assignments: readonly number[]): number {
  const n = points.length;
  if (assignments.length !== n) throw new RangeError(`length mismatch: ${n} points vs ${assignments.length} labels`);
  const labels = [...new Set(assignments)];
  if (labels.length < 2 || labels.length > n - 1) {
    throw new RangeError(`silhouette needs 2 ≤ clusters ≤ n − 1, got ${labels.length} clusters for ${n} points`);
  }
  const size = new Map<number, number>();
  for (const c of assignments) size.set(c, (size.get(c) ?? 0) + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const own = assignments[i] as number;
    if ((size.get(own) as number) === 1) continue;
    const sums = new Map<number, number>();
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const c = assignments[j] as number;
      sums.set(c, (sums.get(c) ?? 0) + Math.sqrt(squaredDistance(points[i] as readonly number[], points[j] as readonly number[])));
    }
    const a = (sums.get(own) ?? 0) / ((size.get(own) as number) - 1);
    let b = Number.POSITIVE_INFINITY;
    for (const [c, s] of sums) if (c !== own) b = Math.min(b, s / (size.get(c) as number));
    const m = Math.max(a, b);
    total += m > 0 ? (b - a) / m : 0;
  }
  return total / n;
}
