/**
 * Score bands (ARCHITECTURE §5) with configurable thresholds. Satisfaction and loyalty are
 * "higher is better"; churn risk and service need are "higher is worse".
 */
import type { Band } from '../store/scores.ts';

export type BandThresholds = {
  /** higher is better: green at or above `green`, red below `red` */
  satisfaction: { green: number; red: number };
  loyalty: { green: number; red: number };
  /** higher is worse: red at or above `red`, green below `green` */
  churnRisk: { green: number; red: number };
  serviceNeed: { green: number; red: number };
};

/**
 * Defaults. Churn risk is a calibrated 90-day probability ×100, so "red" means at least a 50 %
 * chance of losing the customer and "green" under 20 %. Satisfaction 70 is about a CSAT of 4/5
 * or an NPS answer of 7 (a passive); below 40 is detractor territory.
 */
export const DEFAULT_BANDS: BandThresholds = {
  satisfaction: { green: 70, red: 40 },
  loyalty: { green: 60, red: 25 },
  churnRisk: { green: 20, red: 50 },
  serviceNeed: { green: 30, red: 60 },
};

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
