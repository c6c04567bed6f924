/**
 * Features → the numeric row the logistic models (churn, service need) see, plus the plain-word
 * description of each column for reasons. Counts and durations are log1p-transformed (they are
 * heavy-tailed); missing values are imputed to a neutral constant with an
 * indicator column, so "no survey" and "a middling survey" are different things.
 */
import { DAY_MS, NEVER_DAYS, type ContactFeatures } from './features.ts';
import { agoText, daysText, grouped, plural } from './explain.ts';

/** Per-contact values from the loyalty model that the other models also use. */
export type LoyaltyInputs = {
  pAlive: number;
  expected90d: number;
  pChurn90d: number;
  /** BG/NBD could not be evaluated for this history: the values above are neutral, not evidence */
  purchaseModelFailed?: true;
};

type Column = {
  name: string;
  get(f: ContactFeatures, l: LoyaltyInputs): number;
  /**
   * words for a contribution of this column; `up` = it raises the modelled probability, `above` =
   * this contact's value is above the average contact's (the reference the impact is measured from)
   */
  words(f: ContactFeatures, l: LoyaltyInputs, up: boolean, above: boolean): string | null;
};

const log1p = Math.log1p;
const never = (d: number) => d >= NEVER_DAYS;

/**
 * Counts in the direction they push: below the average contact's level a count reads "only 1 …"
 * or "no …" (so "only 1 inbound message in 90 days" can raise churn risk without reading as a
 * good sign), at or above it the plain count.
 */
function count(n: number, one: string, many: string, below: boolean, tail = ''): string {
  if (!below) return `${plural(n, one, many)}${tail}`;
  return n === 0 ? `no ${many}${tail}` : `only ${plural(n, one, many)}${tail}`;
}

export const COLUMNS: readonly Column[] = [
  {
    name: 'purchases',
    get: (f) => log1p(f.purchases),
    words: (f, _l, _up, above) => (f.purchases === 0 ? 'no purchases yet' : count(f.purchases, 'purchase', 'purchases', !above, ' so far')),
  },
  {
    name: 'recency',
    get: (f) => log1p(f.recencyDays),
    words: (f) => (never(f.recencyDays) ? null : f.recencyDays >= 60 ? `no purchase in ${daysText(f.recencyDays)}` : `bought ${agoText(f.recencyDays)}`),
  },
  { name: 'tenure', get: (f) => log1p(f.tenureDays), words: (f) => `customer for ${daysText(f.tenureDays)}` },
  {
    name: 'average order',
    get: (f) => log1p(f.monetaryMean),
    words: (f, _l, _up, above) => (f.amountCount > 0 ? `average order ${grouped(f.monetaryMean)} (${above ? 'above' : 'below'} this account's usual)` : null),
  },
  { name: 'purchases 90d', get: (f) => log1p(f.purchases90d), words: (f, _l, _up, above) => count(f.purchases90d, 'purchase', 'purchases', !above, ' in the last 90 days') },
  { name: 'open deals', get: (f) => log1p(f.openDeals), words: (f, _l, _up, above) => count(f.openDeals, 'open deal', 'open deals', !above) },
  { name: 'lost deals', get: (f) => log1p(f.lostDeals), words: (f, _l, _up, above) => count(f.lostDeals, 'lost deal', 'lost deals', !above) },
  { name: 'inbound 30d', get: (f) => log1p(f.inbound30d), words: (f, _l, _up, above) => count(f.inbound30d, 'message or call from them', 'messages or calls from them', !above, ' in 30 days') },
  { name: 'inbound 90d', get: (f) => log1p(f.inbound90d), words: (f, _l, _up, above) => count(f.inbound90d, 'message or call from them', 'messages or calls from them', !above, ' in 90 days') },
  {
    name: 'inbound trend',
    get: (f) => log1p(f.inbound90d) - log1p(f.inboundPrev90d),
    words: (f) =>
      f.inbound90d === f.inboundPrev90d ? null : `contact from them ${f.inbound90d > f.inboundPrev90d ? 'up' : 'down'} (${f.inboundPrev90d} → ${f.inbound90d} per 90 days)`,
  },
  { name: 'outbound 90d', get: (f) => log1p(f.outbound90d), words: (f, _l, _up, above) => count(f.outbound90d, 'rep touch', 'rep touches', !above, ' in 90 days') },
  {
    name: 'days since inbound',
    get: (f) => log1p(f.daysSinceInbound),
    words: (f) => (never(f.daysSinceInbound) ? 'never heard from them (complaints aside)' : `last heard from them ${agoText(f.daysSinceInbound)}`),
  },
  {
    name: 'days since touch',
    get: (f) => log1p(f.daysSinceTouch),
    words: (f) => (never(f.daysSinceTouch) ? 'no activity on record' : f.daysSinceTouch < 1 ? 'active today' : `no activity in ${daysText(f.daysSinceTouch)}`),
  },
  { name: 'tickets 30d', get: (f) => log1p(f.tickets30d), words: (f, _l, _up, above) => count(f.tickets30d, 'ticket', 'tickets', !above, ' in 30 days') },
  { name: 'tickets 90d', get: (f) => log1p(f.tickets90d), words: (f, _l, _up, above) => count(f.tickets90d, 'ticket', 'tickets', !above, ' in 90 days') },
  { name: 'tickets', get: (f) => log1p(f.tickets), words: (f, _l, _up, above) => count(f.tickets, 'ticket', 'tickets', !above, ' in total') },
  { name: 'open tickets', get: (f) => log1p(f.openTickets), words: (f, _l, _up, above) => count(f.openTickets, 'open ticket', 'open tickets', !above) },
  { name: 'open high-priority', get: (f) => log1p(f.openHighPriority), words: (f, _l, _up, above) => count(f.openHighPriority, 'open high-priority ticket', 'open high-priority tickets', !above) },
  { name: 'reopened', get: (f) => log1p(f.reopenedTickets), words: (f, _l, _up, above) => count(f.reopenedTickets, 'reopened ticket', 'reopened tickets', !above) },
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
  { name: 'negative messages', get: (f) => log1p(f.negativeTexts), words: (f, _l, _up, above) => count(f.negativeTexts, 'negative message', 'negative messages', !above) },
  {
    name: 'detractor answers',
    get: (f) => log1p(f.detractorAnswers),
    words: (f, _l, _up, above) => count(f.detractorAnswers, 'unhappy survey answer', 'unhappy survey answers', !above),
  },
  {
    name: 'promoter answers',
    get: (f) => log1p(f.promoterAnswers),
    words: (f, _l, _up, above) => count(f.promoterAnswers, 'very happy survey answer', 'very happy survey answers', !above),
  },
  {
    name: 'company size',
    get: (f) => log1p(f.companyEmployees ?? 0),
    words: (f) => (f.companyEmployees === null ? null : `company of ${grouped(f.companyEmployees)} people`),
  },
  // The purchase-pattern columns speak the churn score's language: one "chance of churning" on a
  // card is the score itself, never a second percentage beside it (issue 17).
  {
    name: 'P(alive)',
    get: (_f, l) => l.pAlive,
    words: (f, l, up) => (f.purchases === 0 || l.purchaseModelFailed === true ? null : up ? 'buying pattern suggests they may have stopped buying' : 'buying pattern suggests they are still buying'),
  },
  {
    name: 'purchase-pattern churn',
    get: (_f, l) => {
      const p = Math.min(1 - 1e-4, Math.max(1e-4, l.pChurn90d));
      return Math.log(p / (1 - p));
    },
    words: (f, l, up) => (f.purchases === 0 || l.purchaseModelFailed === true ? null : up ? 'buying pattern suggests they may stop buying soon' : 'buying pattern suggests they will keep buying'),
  },
  {
    name: 'expected purchases 90d',
    get: (_f, l) => log1p(l.expected90d),
    words: (_f, l, _up, above) => (l.purchaseModelFailed === true ? null : `${above ? '' : 'only '}${l.expected90d.toFixed(1)} purchases expected in the next 90 days`),
  },
];

export const COLUMN_NAMES: readonly string[] = COLUMNS.map((c) => c.name);

/**
 * Known directions of churn risk (issue 17, "sanity the model cannot break"), enforced in
 * training (train.ts → fitLogistic's `signs`): +1 = the coefficient may only raise churn risk
 * (≥ 0), −1 = only lower it (≤ 0), 0 = not used by the churn model at all; columns not listed are
 * free. Complaints (tickets, negative messages, detractor answers) only ever add risk; purchases
 * and promoter answers only ever remove it. Left out (0):
 * - mean-type columns (survey average, message tone, "has survey"): a detractor answer can raise
 *   an average that was worse still, which would lower churn risk; the counts carry the signal
 *   with a fixed direction;
 * - friendly-contact recency and counts (days since inbound/touch, inbound 30/90 d, trend): one
 *   email after a quiet spell moved churn risk by up to 40 points (bench:models single-event
 *   swing p95 34 with them, 7.5 without, churn AUC ÷ oracle 0.978 → 0.971 on 8,000 contacts,
 *   seed 7). Churn means no longer buying; a friendly message is weak evidence about that and is
 *   left to satisfaction and service need;
 * - average order (a small new purchase lowers it) and BG/NBD's 90-day churn probability, which
 *   RISES with a new purchase for a customer already surely alive (more purchases, more chances
 *   to drop out): "a new purchase lowers churn risk" must hold (test/unit/scoring/churn-signs.test.ts);
 *   P(alive) and the expected purchases carry the purchase rhythm with a fixed direction.
 * One exception is BG/NBD's own: a one-time buyer cannot have dropped out (P(alive) = 1), so their
 * FIRST repeat purchase lowers P(alive) to about 0.76 and can raise churn risk a little. Reading
 * one-time buyers as possibly gone instead cost churn AUC ÷ oracle 0.971 → 0.779 on the synthetic
 * account, whose truth is BG/NBD (docs/scores.md, "Sanity the model cannot break").
 */
export const CHURN_SIGNS: Readonly<Record<string, 1 | -1 | 0>> = {
  'purchases': -1,
  'recency': 1,
  'average order': 0,
  'purchases 90d': -1,
  'inbound 30d': 0,
  'inbound 90d': 0,
  'inbound trend': 0,
  'days since inbound': 0,
  'days since touch': 0,
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
    const text = (COLUMNS[j] as Column).words(f, l, c > 0, (row[j] ?? 0) > (model.means[j] ?? 0));
    if (text === null) continue;
    out.push({ text, impact: c * slope });
  }
  return out;
}

export { DAY_MS };
