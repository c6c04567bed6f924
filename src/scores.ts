/**
 * The scores, as data (ARCHITECTURE §5): the ONE table every layer reads — scoring iterates it,
 * connectors map its fields onto CRM properties, the card and the report label and band with it.
 * Adding a score here is a compile error in every connector mapping until it is mapped.
 *
 * Imports nothing: connectors, scoring, store, server and report all depend on it.
 */

export type Band = 'green' | 'yellow' | 'red';

/** `higher_is_better`: green at or above `green`, red below `red`; `higher_is_worse`: red at or above `red`, green below `green`. */
export type Direction = 'higher_is_better' | 'higher_is_worse';

export type ScoreSpec = {
  readonly key: string;
  /** what a rep reads */
  readonly label: string;
  /** the value range: every score is 0–100, shown as a whole number */
  readonly scale: readonly [min: number, max: number];
  readonly direction: Direction;
  /** default band cut-offs in shown (whole) points; configurable per deployment (src/scoring/bands.ts) */
  readonly bands: { readonly green: number; readonly red: number };
  /** what the score means, for docs, the card's help and the CRM property description */
  readonly description: string;
};

/**
 * Churn risk is a calibrated 90-day probability ×100, so red means at least a 50 % chance of losing
 * the customer and green under 20 %. Satisfaction 70 is about a CSAT of 4/5 or an NPS answer of 7
 * (a passive); below 40 is detractor territory.
 */
export const SCORES = [
  {
    key: 'satisfaction',
    label: 'Satisfaction',
    scale: [0, 100],
    direction: 'higher_is_better',
    bands: { green: 70, red: 40 },
    description: 'How satisfied the customer is: surveys, ticket experience and the tone of their messages.',
  },
  {
    key: 'loyalty',
    label: 'Loyalty',
    scale: [0, 100],
    direction: 'higher_is_better',
    bands: { green: 60, red: 25 },
    description: 'How likely the customer keeps buying: purchase recency, frequency and spend.',
  },
  {
    key: 'churnRisk',
    label: 'Churn risk',
    scale: [0, 100],
    direction: 'higher_is_worse',
    bands: { green: 20, red: 50 },
    description: 'The chance, in percent, that the customer leaves within 90 days.',
  },
  {
    key: 'serviceNeed',
    label: 'Service need',
    scale: [0, 100],
    direction: 'higher_is_worse',
    bands: { green: 30, red: 60 },
    description: 'The chance, in percent, that the customer needs support within 30 days.',
  },
] as const satisfies readonly ScoreSpec[];

export type ScoreKey = (typeof SCORES)[number]['key'];
export const SCORE_KEYS: readonly ScoreKey[] = SCORES.map((s) => s.key);

export function scoreSpec(key: ScoreKey): (typeof SCORES)[number] {
  const spec = SCORES.find((s) => s.key === key);
  if (spec === undefined) throw new RangeError(`unknown score ${key}`);
  return spec;
}

/**
 * Everything Rapport writes onto a contact: the four scores and the fields that go with them.
 * Each connector maps `Record<ScoreField, …>` onto its CRM's property names.
 */
export type ScoreField = ScoreKey | 'health' | 'reasons' | 'scoredAt' | 'modelVersion';
export const SCORE_FIELDS: readonly ScoreField[] = [...SCORE_KEYS, 'health', 'reasons', 'scoredAt', 'modelVersion'];

/** Score-field values as written to the CRM: whole numbers as text, the band, reasons, ISO time. */
export type ScoreValues = Partial<Record<ScoreField, string>>;

/** Parses a stored field name (outbox rows); undefined for anything that is not a field. */
export const asScoreField = (k: string): ScoreField | undefined => (SCORE_FIELDS as readonly string[]).includes(k) ? (k as ScoreField) : undefined;
