/**
 * A small, documented sentiment lexicon for customer messages (inbound emails and calls,
 * ticket text, survey comments). Why a lexicon and not a model: the cache holds no labelled
 * sentiment, the vocabulary of support messages is narrow, and a word list is explainable
 * ("mentions 'refund', 'broken'") and costs nothing per contact.
 *
 * Scoring: each token found in the lexicon adds its weight (−2…+2); a negator in the two
 * preceding tokens ("not", "never", "no", "n't") flips it. The text score is
 * sum / sqrt(sum² + 4), in (−1, 1) (the VADER normalisation with α = 4), so one strong word
 * gives ±0.7 and more words saturate towards ±1.
 */

const POSITIVE: Record<string, number> = {
  thanks: 1, thank: 1, great: 2, excellent: 2, amazing: 2, awesome: 2, love: 2, happy: 2, helpful: 2,
  perfect: 2, good: 1, fast: 1, quick: 1, resolved: 1, smooth: 1, easy: 1, appreciate: 2, pleased: 2,
  satisfied: 2, recommend: 2, fantastic: 2, wonderful: 2, nice: 1, works: 1, fixed: 1, glad: 1,
};

const NEGATIVE: Record<string, number> = {
  bad: -1, terrible: -2, awful: -2, horrible: -2, broken: -2, bug: -1, bugs: -1, error: -1, errors: -1,
  fail: -2, failed: -2, failing: -2, failure: -2, slow: -1, angry: -2, frustrated: -2, frustrating: -2,
  disappointed: -2, disappointing: -2, unhappy: -2, cancel: -2, cancellation: -2, refund: -2,
  complaint: -2, complain: -2, worst: -2, useless: -2, problem: -1, problems: -1, issue: -1, issues: -1,
  unacceptable: -2, upset: -2, outages: -2, blocking: -2, losing: -2, poor: -2, crash: -2, crashes: -2, down: -1, outage: -2, waiting: -1, still: -1,
  confusing: -1, difficult: -1, hard: -1, expensive: -1, escalate: -2, lawyer: -2, leave: -1, switch: -1,
};

const NEGATORS = new Set(['not', 'never', 'no', 'nothing', 'hardly', 'without', 'dont', 'doesnt', 'didnt', 'isnt', 'wasnt', 'cant', 'wont']);

const TOKEN = /[a-z']+/g;

export type Sentiment = {
  /** in (−1, 1); 0 for text with no lexicon words */
  score: number;
  /** lexicon words found */
  hits: number;
};

/** Sentiment of one text. Never throws; empty or non-text input gives { score: 0, hits: 0 }. */
export function sentimentOf(text: string | null | undefined): Sentiment {
  if (typeof text !== 'string' || text.length === 0) return { score: 0, hits: 0 };
  const lower = text.toLowerCase();
  // The replace and the apostrophe strip below only when there is something to change (most texts).
  const tokens = (lower.includes("n't") ? lower.replace(/n't\b/g, ' not') : lower).match(TOKEN);
  if (tokens === null) return { score: 0, hits: 0 };
  let sum = 0;
  let hits = 0;
  for (let i = 0; i < tokens.length; i++) {
    const raw = tokens[i] as string;
    const t = raw.includes("'") ? raw.replace(/'/g, '') : raw;
    const w = POSITIVE[t] ?? NEGATIVE[t];
    if (w === undefined) continue;
    hits++;
    const negated = NEGATORS.has(tokens[i - 1] ?? '') || NEGATORS.has(tokens[i - 2] ?? '');
    sum += negated ? -w * 0.75 : w;
  }
  if (hits === 0) return { score: 0, hits: 0 };
  return { score: sum / Math.sqrt(sum * sum + 4), hits };
}
