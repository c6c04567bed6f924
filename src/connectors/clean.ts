/**
 * Cleaning on ingest (issue 3 "Data cleaning"): pure functions shared by every connector. Each
 * returns the cleaned value or null and never throws; callers keep the raw value next to it and
 * record a short issue code when something was wrong, so no record is ever dropped for bad data.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Trim + lower-case; null when absent or not an email (the raw value is kept by the caller). */
export function cleanEmail(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim().toLowerCase();
  return EMAIL.test(v) ? v : null;
}

/**
 * Digits only, with a leading + when international: `+1 (555) 010-2345` → `+15550102345`,
 * `00 44 20 7946 0958` → `+442079460958`, `555-0102` → `5550102`. Extensions (`x12`, `ext. 12`)
 * are dropped. Fewer than 5 digits is not a phone number.
 */
export function cleanPhone(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const main = raw.trim().split(/\s*(?:x|ext\.?|extension|#)\s*\d+\s*$/i)[0] ?? '';
  let international = main.startsWith('+');
  let digits = main.replace(/\D/g, '');
  if (!international && digits.startsWith('00')) {
    international = true;
    digits = digits.slice(2);
  }
  if (digits.length < 5 || digits.length > 15) return null;
  return international ? `+${digits}` : digits;
}

/** ISO-8601 or epoch-ms (HubSpot sends both, hubspot.md §1.3) → epoch ms; null when unparsable. */
export function parseTime(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  if (v === '') return null;
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
  const v = raw.trim().replace(/^[$€£¥]\s*/, '').replace(/,(?=\d{3}(\D|$))/g, '');
  if (v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

export const parseBool = (raw: string | null | undefined): boolean => raw?.trim().toLowerCase() === 'true';

export const textOrNull = (raw: string | null | undefined): string | null => {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  return v === '' ? null : v;
};

/** HTML → plain text for sentiment: tags dropped, common entities decoded, whitespace collapsed. */
export function stripHtml(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const v = raw
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<br\s*\/?>|<\/p>/gi, '\n')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/[ \t]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .trim();
  return v === '' ? null : v;
}
