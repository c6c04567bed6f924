/**
 * The one signature every score's model implements (ARCHITECTURE §5): `scoreOne` (score-portal.ts)
 * runs the scorer of each row of the SCORES table (src/scores.ts) over the same inputs.
 */
import type { ScoreKey } from '../scores.ts';
import type { ScoreValue } from '../store/scores.ts';
import type { BandThresholds } from './bands.ts';
import type { ContactFeatures } from './features.ts';
import type { PortalModels } from './portal-models.ts';
import type { LoyaltyInputs } from './vector.ts';

export type ScoringInput = {
  features: ContactFeatures;
  /** the purchase model's per-contact values, which the other models also use */
  loyalty: LoyaltyInputs;
  /** the numeric row the logistic models see (vector.ts) */
  row: readonly number[];
  models: PortalModels;
  bands: BandThresholds;
};

/** A score and what the card shows beside it (e.g. likely channel, CLV). */
export type ScoreResult = { score: ScoreValue; extra?: Record<string, unknown> };

export type Scorer = (input: ScoringInput) => ScoreResult;

export type Scorers = Record<ScoreKey, Scorer>;
