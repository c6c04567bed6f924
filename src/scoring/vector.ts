/**
 * Features → the numeric row the logistic models (churn, service need) see, plus the plain-word
 * description of each column for reasons. Counts and durations are log1p-transformed (they are
 * heavy-tailed; scoring.md §5.5); missing values are imputed to a neutral constant with an
 * indicator column, so "no survey" and "a middling survey" are different things.
 */
import { DAY_MS, NEVER_DAYS, type ContactFeatures } from './features.ts';
import { daysText, grouped, plural } from './explain.ts';

/** Per-contact values from the loyalty model that the other models also use. */
export type LoyaltyInputs = { pAlive: number; expected90d: number; pChurn90d: number };

type Column = {
  name: string;
  get(f: ContactFeatures, l: LoyaltyInputs): number;
  /** words for a contribution of this column; `up` = it raises the modelled probability */
  words(f: ContactFeatures, l: LoyaltyInputs, up: boolean): string | null;
};

const log1p = Math.log1p;
const never = (d: number) => d >= NEVER_DAYS;

export const COLUMNS: readonly Column[] = [
  {
    name: 'purchases',
    get: (f) => log1p(f.purchases),
    words: (f) => (f.purchases === 0 ? 'no purchases yet' : plural(f.purchases, 'purchase')),
  },
  {
    name: 'recency',
    get: (f) => log1p(f.recencyDays),
    words: (f) => (never(f.recencyDays) ? null : f.recencyDays >= 60 ? `no purchase in ${daysText(f.recencyDays)}` : `bought ${daysText(f.recencyDays)} ago`),
  },
  { name: 'tenure', get: (f) => log1p(f.tenureDays), words: (f) => `customer for ${daysText(f.tenureDays)}` },
  {
    name: 'average order',
    get: (f) => log1p(f.monetaryMean),
    words: (f) => (f.amountCount > 0 ? `average order ${grouped(f.monetaryMean)}` : null),
  },
  { name: 'purchases 90d', get: (f) => log1p(f.purchases90d), words: (f) => `${plural(f.purchases90d, 'purchase')} in the last 90 days` },
  { name: 'open deals', get: (f) => log1p(f.openDeals), words: (f) => plural(f.openDeals, 'open deal') },
  { name: 'lost deals', get: (f) => log1p(f.lostDeals), words: (f) => plural(f.lostDeals, 'lost deal') },
  { name: 'inbound 30d', get: (f) => log1p(f.inbound30d), words: (f) => `${plural(f.inbound30d, 'inbound message')} in 30 days` },
  { name: 'inbound 90d', get: (f) => log1p(f.inbound90d), words: (f) => `${plural(f.inbound90d, 'inbound message')} in 90 days` },
  {
    name: 'inbound trend',
    get: (f) => log1p(f.inbound90d) - log1p(f.inboundPrev90d),
    words: (f) =>
      f.inbound90d === f.inboundPrev90d ? null : `inbound contact ${f.inbound90d > f.inboundPrev90d ? 'up' : 'down'} (${f.inboundPrev90d} → ${f.inbound90d} per 90 days)`,
  },
  { name: 'outbound 90d', get: (f) => log1p(f.outbound90d), words: (f) => `${plural(f.outbound90d, 'rep touch', 'rep touches')} in 90 days` },
  {
    name: 'days since inbound',
    get: (f) => log1p(f.daysSinceInbound),
    words: (f) => (never(f.daysSinceInbound) ? 'never contacted us' : `last heard from ${daysText(f.daysSinceInbound)} ago`),
  },
  {
    name: 'days since touch',
    get: (f) => log1p(f.daysSinceTouch),
    words: (f) => (never(f.daysSinceTouch) ? 'no activity on record' : `no activity in ${daysText(f.daysSinceTouch)}`),
  },
  { name: 'tickets 30d', get: (f) => log1p(f.tickets30d), words: (f) => `${plural(f.tickets30d, 'ticket')} in 30 days` },
  { name: 'tickets 90d', get: (f) => log1p(f.tickets90d), words: (f) => `${plural(f.tickets90d, 'ticket')} in 90 days` },
  { name: 'tickets', get: (f) => log1p(f.tickets), words: (f) => `${plural(f.tickets, 'ticket')} in total` },
  { name: 'open tickets', get: (f) => log1p(f.openTickets), words: (f) => plural(f.openTickets, 'open ticket') },
  { name: 'open high-priority', get: (f) => log1p(f.openHighPriority), words: (f) => plural(f.openHighPriority, 'open high-priority ticket') },
  { name: 'reopened', get: (f) => log1p(f.reopenedTickets), words: (f) => plural(f.reopenedTickets, 'reopened ticket') },
  {
    name: 'time to close',
    get: (f) => log1p(f.meanCloseDays ?? 0),
    words: (f) => (f.meanCloseDays === null ? null : `tickets take ${f.meanCloseDays.toFixed(1)} days to close`),
  },
  {
    name: 'survey score',
    get: (f) => f.surveyScore ?? 0.7,
    words: (f) => (f.surveyScore === null ? null : `survey answers average ${Math.round(f.surveyScore * 100)}/100`),
  },
  { name: 'has survey', get: (f) => (f.surveys > 0 ? 1 : 0), words: (f) => (f.surveys > 0 ? plural(f.surveys, 'survey answer') : 'no survey answers') },
  {
    name: 'sentiment',
    get: (f) => f.sentiment ?? 0,
    words: (f) => (f.sentiment === null ? null : `message tone ${f.sentiment >= 0.15 ? 'positive' : f.sentiment <= -0.15 ? 'negative' : 'neutral'}`),
  },
  { name: 'negative messages', get: (f) => log1p(f.negativeTexts), words: (f) => plural(f.negativeTexts, 'negative message') },
  { name: 'detractor answers', get: (f) => log1p(f.detractorAnswers), words: (f) => `${plural(f.detractorAnswers, 'detractor survey answer')} (NPS 0–6, CSAT 1–2, CES 1–3)` },
  { name: 'promoter answers', get: (f) => log1p(f.promoterAnswers), words: (f) => `${plural(f.promoterAnswers, 'promoter survey answer')} (NPS 9–10, CSAT 5, CES 6–7)` },
  {
    name: 'company size',
    get: (f) => log1p(f.companyEmployees ?? 0),
    words: (f) => (f.companyEmployees === null ? null : `company of ${grouped(f.companyEmployees)} people`),
  },
  {
    name: 'P(alive)',
    get: (_f, l) => l.pAlive,
    words: (_f, l) => `purchase pattern says ${Math.round(l.pAlive * 100)} % likely still active`,
  },
  {
    name: 'purchase-pattern churn',
    get: (_f, l) => {
      const p = Math.min(1 - 1e-4, Math.max(1e-4, l.pChurn90d));
      return Math.log(p / (1 - p));
    },
    words: (f, l) => (f.purchases === 0 ? null : `purchase pattern: ${Math.round(l.pChurn90d * 100)} % chance of having stopped within 90 days`),
  },
  {
    name: 'expected purchases 90d',
    get: (_f, l) => log1p(l.expected90d),
    words: (_f, l) => `${l.expected90d.toFixed(1)} purchases expected in 90 days`,
  },
];

export const COLUMN_NAMES: readonly string[] = COLUMNS.map((c) => c.name);

/**
 * Known directions of churn risk (issue 17, "sanity the model cannot break"), enforced in
 * training (train.ts → fitLogistic's `signs`): +1 = the coefficient may only raise churn risk
 * (≥ 0), −1 = only lower it (≤ 0), 0 = not used by the churn model at all; columns not listed are
 * free. Complaints (tickets, negative messages, detractor answers) only ever add risk; purchases,
 * a friendly inbound contact and promoter answers only ever remove it. Mean-type columns (survey
 * average, message tone, "has survey") are left out: a detractor answer can raise an average
 * that was worse still, which would lower churn risk (the counts carry the same signal with a
 * fixed direction). Retention literature agrees on every listed sign (docs/scores.md).
 */
export const CHURN_SIGNS: Readonly<Record<string, 1 | -1 | 0>> = {
  'purchases': -1,
  'recency': 1,
  'purchases 90d': -1,
  'inbound 30d': -1,
  'inbound 90d': -1,
  'inbound trend': -1,
  'days since inbound': 1,
  'days since touch': 1,
  'tickets 30d': 1,
  'tickets 90d': 1,
  'tickets': 1,
  'open tickets': 1,
  'open high-priority': 1,
  'reopened': 1,
  'time to close': 1,
  'survey score': 0,
  'has survey': 0,
  'sentiment': 0,
  'negative messages': 1,
  'detractor answers': 1,
  'promoter answers': -1,
  'P(alive)': -1,
  'purchase-pattern churn': 1,
  'expected purchases 90d': -1,
};

/** CHURN_SIGNS as one entry per column (null = free), in COLUMNS order. */
export function churnSignVector(): (1 | -1 | 0 | null)[] {
  return COLUMN_NAMES.map((c) => CHURN_SIGNS[c] ?? null);
}

export function modelRow(f: ContactFeatures, l: LoyaltyInputs, out: number[] = new Array<number>(COLUMNS.length)): number[] {
  for (let j = 0; j < COLUMNS.length; j++) {
    const v = (COLUMNS[j] as Column).get(f, l);
    out[j] = Number.isFinite(v) ? v : 0;
  }
  return out;
}

/** A stored logistic model over `COLUMNS`, with the training means used for contributions. */
export type LinearModel = {
  columns: readonly string[];
  intercept: number;
  coefficients: readonly number[];
  /** mean of each column over the training rows: contributions are measured from the average contact */
  means: readonly number[];
};

const CONTRIB = new Float64Array(COLUMNS.length);
const ORDER = new Int32Array(COLUMNS.length);

/**
 * Signed reasons for a logistic probability: column j contributes βⱼ(xⱼ − x̄ⱼ) on the logit
 * scale, converted to score points with the slope of the sigmoid at p (×100·p(1−p)), so the
 * impacts are on the same 0–100 scale as the score.
 */
export function logisticReasons(
  model: LinearModel,
  row: readonly number[],
  p: number,
  f: ContactFeatures,
  l: LoyaltyInputs,
  top = 6,
): { text: string; impact: number }[] {
  const slope = 100 * p * (1 - p);
  // Rank first, then write words only for the strongest few: text is the costly part per contact.
  // Ranked by |contribution|, ties by column order, with an insertion sort into scratch arrays
  // (at most COLUMNS.length entries; this runs twice per contact and never re-enters).
  const contrib = CONTRIB;
  const idx = ORDER;
  let n = 0;
  for (let j = 0; j < COLUMNS.length; j++) {
    const c = (model.coefficients[j] ?? 0) * ((row[j] ?? 0) - (model.means[j] ?? 0));
    contrib[j] = c;
    if (c === 0) continue;
    const a = Math.abs(c);
    let at = n;
    while (at > 0 && Math.abs(contrib[idx[at - 1] as number] as number) < a) {
      idx[at] = idx[at - 1] as number;
      at--;
    }
    idx[at] = j;
    n++;
  }
  const out: { text: string; impact: number }[] = [];
  for (let k = 0; k < n; k++) {
    if (out.length >= top) break;
    const j = idx[k] as number;
    const c = contrib[j] as number;
    const text = (COLUMNS[j] as Column).words(f, l, c > 0);
    if (text === null) continue;
    out.push({ text, impact: c * slope });
  }
  return out;
}

export { DAY_MS };
