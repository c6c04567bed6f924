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

/** Data-quality reason: always shown when the contact's records have problems (never hidden by ranking). */
export function dataQualityReason(issues: readonly string[], confidenceLost: number): Reason | null {
  if (issues.length === 0) return null;
  const shown = issues.slice(0, 3).join(', ');
  const more = issues.length > 3 ? ` and ${issues.length - 3} more` : '';
  return { text: `data problems lower confidence: ${shown}${more}`, impact: -Math.round(confidenceLost * 100) };
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function daysText(d: number): string {
  return plural(Math.round(d), 'day');
}

/** 12345.6 → "12,346" (Number#toLocaleString goes through Intl: ~100× slower per call). */
export function grouped(n: number): string {
  const v = Math.round(n);
  const sign = v < 0 ? '-' : '';
  const digits = String(Math.abs(v));
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

/** Connector issue codes (connectors/hubspot/mapping.ts: "future_date:closedate", …) in plain words. */
export function describeIssue(code: string): string {
  const whole = ISSUE_WORDS[code];
  if (whole !== undefined) return whole;
  const colon = code.indexOf(':');
  if (colon > 0) {
    const prefix = ISSUE_PREFIX[code.slice(0, colon)];
    if (prefix !== undefined) return `${prefix} (${code.slice(colon + 1)})`;
  }
  return code;
}
