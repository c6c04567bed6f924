/**
 * Reasons: the top signed contributions behind a score, in plain words
 * ("3 open high-priority tickets", "no purchase in 140 days"). Each scorer turns its inputs into
 * `Reason`s with an impact in score points; this module ranks, merges and formats them.
 */
import type { DataIssue, DataIssueCode } from '../connectors/types.ts';
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
export function confidenceLine(confidence: number, issues: readonly DataIssue[]): string {
  const pct = `confidence ${Math.round(Math.max(0, Math.min(1, confidence)) * 100)} %`;
  if (issues.length === 0) return pct;
  const more = issues.length > 3 ? ` and ${plural(issues.length - 3, 'more data problem')}` : '';
  return `${pct} — ${issues.slice(0, 3).map(describeIssue).join(', ')}${more}`;
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

/** Each issue in words, most of them said of their field: "date in the future (deal close date)". */
const SAID_OF: Record<DataIssueCode, (field: string) => string> = {
  duplicate_email: () => 'possible duplicate contact (same email)',
  invalid_email: () => 'invalid email address',
  invalid_phone: () => 'invalid phone number',
  negative_amount: () => 'negative deal amount',
  unreadable: () => 'unreadable cached record',
  too_long: (f) => `value too long to use (${f})`,
  unparsable_date: (f) => `unreadable date (${f})`,
  implausible_date: (f) => `implausible date (${f})`,
  future_date: (f) => `date in the future (${f})`,
  not_a_number: (f) => `non-numeric value (${f})`,
  implausible_amount: (f) => `implausible amount (${f})`,
  implausible_number: (f) => `implausible number (${f})`,
  missing: (f) => `missing ${f}`,
  unknown_type: (f) => `unknown ${f}`,
  out_of_range: (f) => `${f} outside its scale`,
};

/** What a rep calls a record of each type. */
const NOUN: Record<string, string> = {
  contacts: 'contact',
  companies: 'company',
  deals: 'deal',
  tickets: 'ticket',
  feedback_submissions: 'survey answer',
  calls: 'call',
  emails: 'email',
  meetings: 'meeting',
  notes: 'note',
  tasks: 'task',
};
/** Our field names as a rep knows them, where "<noun> <words>" would not read well. */
const FIELD_WORDS: Record<string, string> = {
  'contacts.email': 'email address',
  'contacts.phone': 'phone number',
  'companies.employees': 'company size',
  'companies.annualRevenue': 'annual revenue',
  'feedback_submissions.value': 'survey answer',
  'feedback_submissions.surveyType': 'survey type',
  'tickets.timeToCloseMs': 'ticket time to close',
  'tickets.reopenedCount': 'ticket reopen count',
};
const WORDS: Record<string, string> = { createdAt: 'create date', closedAt: 'close date', at: 'date', date: 'date', durationMs: 'duration', other: 'field' };

/** `deals.closedAt` → "deal close date"; `calls.at` → "call date". */
function fieldWords(field: string): string {
  const known = FIELD_WORDS[field];
  if (known !== undefined) return known;
  const dot = field.indexOf('.');
  const type = dot > 0 ? field.slice(0, dot) : '';
  const key = dot > 0 ? field.slice(dot + 1) : field;
  const words = WORDS[key] ?? key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const noun = NOUN[type];
  return noun === undefined ? words : `${noun} ${words}`;
}

/** A data issue in the words a rep reads (the card's confidence line, the report). */
export function describeIssue(issue: DataIssue): string {
  return SAID_OF[issue.code](fieldWords(issue.field));
}
