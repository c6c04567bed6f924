import type { DataIssue } from './types.ts';

/**
 * Cleaning on ingest (issue 3 "Data cleaning"): pure functions shared by every connector. Each
 * returns the cleaned value or null and never throws; callers keep the raw value next to it and
 * record a short issue code when something was wrong, so no record is ever dropped for bad data.
 *
 * Every function runs in time linear in its input, and caps the input's length before any
 * regular expression (issue 15 item 3: a 65,000-character phone field took 5 s to clean and
 * froze the server). Web forms set phones and inbound e-mail sets bodies, so these strings are
 * attacker-controlled. `npm run lint` checks the patterns here for super-linear backtracking
 * (eslint-plugin-regexp).
 */

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets. */
export const MAX_EMAIL_CHARS = 254;
/** E.164 numbers have at most 15 digits; 64 leaves room for formatting and an extension. */
export const MAX_PHONE_CHARS = 64;
/** Text kept for sentiment and display (a long e-mail body is cut here). */
export const MAX_TEXT_CHARS = 20_000;
/** Dates and numbers: nothing legitimate is longer. */
export const MAX_SCALAR_CHARS = 64;

/**
 * The data issue of a value longer than its cap (`too_long` on `field`), or null. Callers push it
 * next to their other issues; the value itself is dropped (emails, phones, dates, numbers) or cut
 * to the cap (text).
 */
export function lengthIssue(field: string, raw: string | null | undefined, max: number): DataIssue | null {
  return typeof raw === 'string' && raw.trim().length > max ? { code: 'too_long', field } : null;
}

/**
 * Plausible ranges (issue 15 item 11): a CRM accepts any number in an amount and any date, and a
 * deal amount of 1e21 or a close date at −8.64e15 (the smallest JS date) produced reasons like
 * "no purchase in 100020790 days". Values outside are dropped with an `implausible_*` issue,
 * which lowers the contact's confidence like any other data issue.
 */
export const PLAUSIBLE_TIME_MIN = Date.UTC(1900, 0, 1);
export const PLAUSIBLE_TIME_MAX = Date.UTC(2200, 0, 1);
/** Deal amounts and revenue: a trillion in any currency is beyond any real deal. */
export const MAX_PLAUSIBLE_AMOUNT = 1e12;
/** Counts, durations, survey values: anything bigger is a data-entry accident. */
export const MAX_PLAUSIBLE_NUMBER = 1e15;

export const isPlausibleTime = (t: number): boolean => Number.isFinite(t) && t >= PLAUSIBLE_TIME_MIN && t <= PLAUSIBLE_TIME_MAX;
export const isPlausibleAmount = (n: number): boolean => Number.isFinite(n) && Math.abs(n) <= MAX_PLAUSIBLE_AMOUNT;
export const isPlausibleNumber = (n: number): boolean => Number.isFinite(n) && Math.abs(n) <= MAX_PLAUSIBLE_NUMBER;

/** One `@`, no whitespace; deterministic, so linear (the old /…+\.…+$/ backtracked on dots). */
const EMAIL_PARTS = /^[^\s@]+@[^\s@]+$/;

/** Trim + lower-case; null when absent, longer than 254 characters or not an email (the raw value is kept by the caller). */
export function cleanEmail(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const trimmed = raw.trim();
  if (trimmed.length > MAX_EMAIL_CHARS) return null;
  const v = trimmed.toLowerCase();
  if (!EMAIL_PARTS.test(v)) return null;
  // the domain needs a dot with something on both sides
  const domain = v.slice(v.indexOf('@') + 1);
  return domain.slice(1, -1).includes('.') ? v : null;
}

/**
 * Digits only, with a leading + when international: `+1 (555) 010-2345` → `+15550102345`,
 * `00 44 20 7946 0958` → `+442079460958`, `555-0102` → `5550102`. Extensions (`x12`, `ext. 12`)
 * are dropped. Fewer than 5 digits is not a phone number.
 */
export function cleanPhone(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  if (v.length > MAX_PHONE_CHARS) return null;
  const main = withoutExtension(v);
  let international = main.startsWith('+');
  let digits = main.replace(/\D/g, '');
  if (!international && digits.startsWith('00')) {
    international = true;
    digits = digits.slice(2);
  }
  if (digits.length < 5 || digits.length > 15) return null;
  return international ? `+${digits}` : digits;
}

const EXTENSION_MARKERS = ['extension', 'ext.', 'ext', 'x', '#'];
const isDigit = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '9';
const isSpace = (ch: string | undefined) => ch !== undefined && ch.trim() === '';

/**
 * Drops a trailing extension (`x12`, `ext. 12`, `extension 12`, `#12`) by scanning back from the
 * end once, instead of a regex that retried from every start position.
 */
function withoutExtension(v: string): string {
  let i = v.length;
  while (isDigit(v[i - 1])) i--;
  if (i === v.length) return v;
  while (isSpace(v[i - 1])) i--;
  const head = v.slice(0, i).toLowerCase();
  for (const m of EXTENSION_MARKERS) {
    if (head.endsWith(m)) return v.slice(0, i - m.length).trimEnd();
  }
  return v;
}

/** ISO-8601 or epoch-ms (HubSpot sends both, https://developers.hubspot.com/docs/guides/crm/using-object-apis) → epoch ms; null when unparsable. */
export function parseTime(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  if (v === '' || v.length > MAX_SCALAR_CHARS) return null;
  if (/^-?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : null;
  }
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

/** "1,500.00", " 1500 ", "$1500" → 1500; null when absent or not a finite number. */
export function parseAmount(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return null;
  if (raw.trim().length > MAX_SCALAR_CHARS) return null;
  const v = raw.trim().replace(/^[$€£¥]\s*/, '').replace(/,(?=\d{3}(\D|$))/g, '');
  if (v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

export const parseBool = (raw: string | null | undefined): boolean => raw?.trim().toLowerCase() === 'true';

/** Cuts a text to MAX_TEXT_CHARS (callers report `too_long` via lengthIssue). */
export const capText = (v: string): string => (v.length > MAX_TEXT_CHARS ? v.slice(0, MAX_TEXT_CHARS) : v);

/** Trimmed text, at most MAX_TEXT_CHARS long; null when absent or blank. */
export const textOrNull = (raw: string | null | undefined): string | null => {
  if (raw === null || raw === undefined) return null;
  const v = capText(raw.trim()).trim();
  return v === '' ? null : v;
};

/**
 * HTML → plain text for sentiment: `<script>`/`<style>` blocks dropped, `<br>` and `</p>` become
 * line breaks, other tags dropped, common entities decoded, whitespace collapsed. The input is
 * cut to MAX_TEXT_CHARS first. Same passes as the regexes this replaced, but each one scans
 * left to right once with indexOf: the old `<(script|style)…<\/\1>` and `<[^>]+>` retried from
 * every `<` (an unclosed `<script` or a run of `<` without `>` was quadratic) and `\s*\n\s*`
 * was quadratic on long runs of spaces.
 */
export function stripHtml(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const v = dropTags(dropScriptBlocks(capText(raw)).replace(/<br\s*\/?>|<\/p>/gi, '\n'))
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/[ \t]+/g, ' ')
    // each run of whitespace is matched once; a run holding a line break becomes that break
    .replace(/\s+/g, (run) => (run.includes('\n') ? '\n' : run))
    .trim();
  return v === '' ? null : v;
}

/** `<name …>…</name>` (script, style; any case) → ' ', leftmost first, like the regex it replaces. */
function dropScriptBlocks(s: string): string {
  const lower = s.toLowerCase();
  const names = ['script', 'style'] as const;
  // next candidate `<name` per element at or after i (-1: none left); a name whose closing tag
  // was not found once is never searched again (a later one cannot find it either)
  const next: Record<string, number> = { script: lower.indexOf('<script'), style: lower.indexOf('<style') };
  const out: string[] = [];
  let i = 0;
  for (;;) {
    for (const n of names) if (next[n] !== -1 && (next[n] as number) < i) next[n] = lower.indexOf(`<${n}`, i);
    const candidates = names.filter((n) => next[n] !== -1);
    if (candidates.length === 0) break;
    const name = candidates.reduce((a, b) => ((next[a] as number) <= (next[b] as number) ? a : b));
    const at = next[name] as number;
    const gt = lower.indexOf('>', at + name.length + 1);
    if (gt === -1) break; // no opening tag can end after here
    const close = lower.indexOf(`</${name}>`, gt + 1);
    if (close === -1) {
      next[name] = -1;
      continue;
    }
    out.push(s.slice(i, at), ' ');
    i = close + name.length + 3;
  }
  out.push(s.slice(i));
  return out.join('');
}

/** Replaces every `<…>` (at least one character inside) with ' ', like `/<[^>]+>/g`. */
function dropTags(t: string): string {
  const out: string[] = [];
  let i = 0;
  let from = 0;
  for (;;) {
    const lt = t.indexOf('<', from);
    if (lt === -1) break;
    const gt = t.indexOf('>', lt + 1);
    if (gt === -1) break; // no tag can end after here: the rest is text
    if (gt === lt + 1) {
      from = lt + 1; // `<>` is text
      continue;
    }
    out.push(t.slice(i, lt), ' ');
    i = from = gt + 1;
  }
  out.push(t.slice(i));
  return out.join('');
}
