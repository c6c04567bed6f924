/**
 * Score bands (ARCHITECTURE §5) with configurable thresholds; each score's direction and default
 * cut-offs come from the SCORES table (src/scores.ts).
 */
import { SCORES, scoreSpec, type Band, type ScoreKey } from '../scores.ts';

/** Per score: higher-is-better scores are green at or above `green` and red below `red`; higher-is-worse ones the other way. */
export type BandThresholds = Record<ScoreKey, { green: number; red: number }>;

/** The table's defaults (src/scores.ts explains the cut-offs). */
export const DEFAULT_BANDS: BandThresholds = Object.fromEntries(SCORES.map((s) => [s.key, { ...s.bands }])) as BandThresholds;

/** The band of a score's value, in the score's own direction. */
export function bandOf(key: ScoreKey, value: number, thresholds: BandThresholds = DEFAULT_BANDS): Band {
  const t = thresholds[key];
  return scoreSpec(key).direction === 'higher_is_better' ? bandHigherIsBetter(value, t) : bandHigherIsWorse(value, t);
}

/**
 * Bands are decided on the value a rep sees: the whole number the card, the CRM property and the
 * report show (issue 17: satisfaction 69.94 showed as 70 with a yellow "Needs attention" badge).
 */
export const shownValue = (value: number): number => Math.round(value);

export function bandHigherIsBetter(value: number, t: { green: number; red: number }): Band {
  const v = shownValue(value);
  return v >= t.green ? 'green' : v < t.red ? 'red' : 'yellow';
}

export function bandHigherIsWorse(value: number, t: { green: number; red: number }): Band {
  const v = shownValue(value);
  return v >= t.red ? 'red' : v < t.green ? 'green' : 'yellow';
}

const RANK: Record<Band, number> = { green: 0, yellow: 1, red: 2 };

/**
 * Overall health: the worse of satisfaction and churn risk (the two a rep acts on). Loyalty
 * only pulls health down from green to yellow: a low-value customer is not an at-risk one.
 * Service need is workload, not health, and is left out.
 */
export function healthBand(b: { satisfaction: Band; loyalty: Band; churnRisk: Band }): Band {
  let worst: Band = RANK[b.satisfaction] >= RANK[b.churnRisk] ? b.satisfaction : b.churnRisk;
  if (worst === 'green' && b.loyalty === 'red') worst = 'yellow';
  return worst;
}
