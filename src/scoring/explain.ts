/**
 * Reasons: the top signed contributions behind a score, in plain words
 * ("3 open high-priority tickets", "no purchase in 140 days"). Each scorer turns its inputs into
 * `Reason`s with an impact in score points; this module ranks, merges and formats them.
 */
import type { Reason } from '../store/scores.ts';

/** The `top` reasons by absolute impact (ties keep the given order), impacts rounded to 0.1 point. */
export function topReasons(reasons: readonly Reason[], top = 4, minImpact = 0.5): Reason[] {
  // Runs several times per contact: a stable insertion into a short list instead of
  // filter/map/sort/slice/map (five arrays and a closure per call; same order and values).
  const kept: Reason[] = [];
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i] as Reason;
    const a = Math.abs(r.impact);
    if (!Number.isFinite(r.impact) || !(a >= minImpact)) continue;
    // after every kept reason of greater or equal strength (ties keep the given order)
    let at = kept.length;
    while (at > 0 && Math.abs((kept[at - 1] as Reason).impact) < a) at--;
    if (at >= top) continue;
    kept.splice(at, 0, r);
    if (kept.length > top) kept.length = top;
  }
  const out: Reason[] = new Array<Reason>(kept.length);
  for (let i = 0; i < kept.length; i++) {
    const r = kept[i] as Reason;
    out[i] = { text: r.text, impact: Math.round(r.impact * 10) / 10 };
  }
  return out;
}

/**
 * The confidence line: "confidence 62 % — invalid phone number, deal dated in the future". Data
 * problems lower confidence, not the score, so they are said once here and never as a reason
 * (issue 17: shown as reasons, the confidence lost read as score points).
 */
export function confidenceLine(confidence: number, issues: readonly string[]): string {
  const pct = `confidence ${Math.round(Math.max(0, Math.min(1, confidence)) * 100)} %`;
  if (issues.length === 0) return pct;
  const more = issues.length > 3 ? ` and ${plural(issues.length - 3, 'more data problem')}` : '';
  return `${pct} — ${issues.slice(0, 3).join(', ')}${more}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function daysText(d: number): string {
  return plural(Math.round(d), 'day');
}

/** "today", "yesterday", "12 days ago" (never "0 days ago"). */
export function agoText(d: number): string {
  const n = Math.round(d);
  return n <= 0 ? 'today' : n === 1 ? 'yesterday' : `${n} days ago`;
}

/**
 * 12345.6 → "12,346" (Number#toLocaleString goes through Intl: ~100× slower per call). Numbers of
 * 10²¹ and more, which String() writes as "1e+21", are grouped from their BigInt digits; a
 * non-finite value reads "unknown" (issue 15 item 11: "average order 1e,+21").
 */
export function grouped(n: number): string {
  if (!Number.isFinite(n)) return 'unknown';
  const v = Math.round(n);
  const sign = v < 0 ? '-' : '';
  const digits = Math.abs(v) >= 1e21 ? BigInt(Math.abs(v)).toString() : String(Math.abs(v));
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return sign + out;
}

const ISSUE_WORDS: Record<string, string> = {
  duplicate_email: 'possible duplicate contact (same email)',
  invalid_email: 'invalid email address',
  invalid_phone: 'invalid phone number',
  negative_amount: 'negative deal amount',
};
const ISSUE_PREFIX: Record<string, string> = {
  future_date: 'date in the future',
  unparsable_date: 'unreadable date',
  not_a_number: 'non-numeric value',
};

/** CRM property names in issue codes, as a rep knows the fields (no internal keys on the card). */
const FIELD_WORDS: Record<string, string> = {
  closedate: 'deal close date',
  createdate: 'create date',
  hs_createdate: 'create date',
  hs_timestamp: 'activity date',
  hs_submission_timestamp: 'survey answer date',
  amount: 'deal amount',
  hs_value: 'survey answer',
  numberofemployees: 'company size',
  annualrevenue: 'annual revenue',
  time_to_close: 'ticket time to close',
  closed_date: 'ticket close date',
};

/** "hs_lastmodifieddate" → "last modified date" for a field with no entry above. */
function fieldWords(name: string): string {
  return FIELD_WORDS[name] ?? name.replace(/^hs_/, '').replace(/_/g, ' ');
}

/** Connector issue codes (the CRM mappings' "future_date:closedate", …) in plain words. */
export function describeIssue(code: string): string {
  const whole = ISSUE_WORDS[code];
  if (whole !== undefined) return whole;
  const colon = code.indexOf(':');
  if (colon > 0) {
    const prefix = ISSUE_PREFIX[code.slice(0, colon)];
    if (prefix !== undefined) return `${prefix} (${fieldWords(code.slice(colon + 1))})`;
  }
  return code.replace(/_/g, ' ');
}
