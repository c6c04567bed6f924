/**
 * Stratified k-fold assignment for `rapport model eval` and any other cross-validated metric:
 * every fold gets (almost) the same share of positives as the whole set, so a rare churn label
 * does not leave a fold without positives (where AUC is undefined). Seeded: same input and seed,
 * same folds. Use a time split instead whenever the rows have dates (docs/scores.md "Features (as of a date)").
 */
import { createRandom, shuffleInPlace } from './random.ts';

/**
 * Fold index (0..k−1) per row, stratified by the 0/1 label as sklearn's StratifiedKFold with
 * shuffle: each class is shuffled with the seed and dealt round-robin, the positives continuing
 * where the negatives stopped so fold sizes differ by at most one.
 */
export function stratifiedKFold(labels: readonly number[], k: number, seed = 1): number[] {
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`k must be an integer ≥ 2, got ${k}`);
  const negatives: number[] = [];
  const positives: number[] = [];
  labels.forEach((y, i) => {
    if (y === 1) positives.push(i);
    else if (y === 0) negatives.push(i);
    else throw new RangeError(`label ${i} is ${y}, expected 0 or 1`);
  });
  if (positives.length < k || negatives.length < k) {
    throw new RangeError(
      `stratified ${k}-fold needs at least ${k} rows of each class, got ${positives.length} positives and ${negatives.length} negatives`,
    );
  }
  const random = createRandom(seed);
  const folds = new Array<number>(labels.length);
  let next = 0;
  for (const group of [shuffleInPlace(negatives, random), shuffleInPlace(positives, random)]) {
    for (const row of group) {
      folds[row] = next;
      next = (next + 1) % k;
    }
  }
  return folds;
}
