import { describe, expect, it } from 'vitest';
import {
  cleanEmail,
  cleanPhone,
  MAX_TEXT_CHARS,
  parseAmount,
  parseTime,
  stripHtml,
  textOrNull,
} from '../../src/connectors/clean.ts';
import { toRecord as hubspotRecord } from '../../src/connectors/hubspot/mapping.ts';
import { toRecord as salesforceRecord } from '../../src/connectors/salesforce/mapping.ts';
import type { ContactData, EngagementData } from '../../src/connectors/types.ts';
import { computeFeatures, readContacts } from '../../src/scoring/features.ts';
import { sentimentOf } from '../../src/scoring/sentiment.ts';
import { contact, engagement, load, NOW, openStore, PORTAL, survey, ticket } from '../unit/scoring/fixtures.ts';

/**
 * Issue 15 item 3: CRM text is attacker-controlled (web forms set phones, inbound e-mail sets
 * bodies). A 65,000-character phone took 5 s to clean and froze the server. Every cleaning
 * function, and the text paths the scorer runs, must stay linear on hostile 100k inputs.
 */
const N = 100_000;
/** Linear work on 100k characters takes a few ms; the budget leaves room for a loaded machine. */
const BUDGET_MS = 250;

const ATTACKS: Record<string, string[]> = {
  // the shapes that made the old patterns retry from every position
  phone: [' '.repeat(N) + '!', '1'.repeat(N) + '!', 'x' + '1'.repeat(N) + ' !', '\t'.repeat(N) + 'x', ' 1'.repeat(N / 2) + 'a', 'ext'.repeat(N / 3)],
  email: ['a@' + '.'.repeat(N) + ' ', 'a@a' + '.a'.repeat(N / 2) + '@', '@'.repeat(N), 'a'.repeat(N) + '@', 'a@' + 'b.'.repeat(N / 2) + '\n'],
  html: [
    '<'.repeat(N),
    '<script'.repeat(N / 7),
    '<script>'.repeat(N / 8),
    '<style x'.repeat(N / 8) + '>',
    ' '.repeat(N) + 'x',
    ' \n'.repeat(N / 2) + 'x',
    '\t'.repeat(N) + '\n',
    '<br' + ' '.repeat(N),
    '<a' + ' '.repeat(N),
    '&amp;'.repeat(N / 5),
  ],
  number: ['$' + ' '.repeat(N) + 'x', '1,000'.repeat(N / 5), ',' + '0'.repeat(N), '1'.repeat(N) + 'x', '-'.repeat(N), '2020-01-01T'.repeat(N / 11)],
  text: [' '.repeat(N) + 'a', "n't".repeat(N / 3), "a'".repeat(N / 2), 'bad not '.repeat(N / 8), "'".repeat(N)],
};

function timed<T>(f: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { ms: performance.now() - t0, value };
}

function expectFast(name: string, input: string, f: (s: string) => unknown): unknown {
  f(input.slice(0, 1000)); // warm the function up (JIT), so the budget measures the algorithm
  const { ms, value } = timed(() => f(input));
  expect(ms, `${name} on ${JSON.stringify(input.slice(0, 20))}… (${input.length} chars) took ${ms.toFixed(0)} ms`).toBeLessThan(BUDGET_MS);
  return value;
}

describe('cleaning functions on hostile 100k-character input', () => {
  it('cleanPhone: linear, and a value longer than 64 characters is no phone', () => {
    for (const s of [...ATTACKS.phone!, ...ATTACKS.text!]) expect(expectFast('cleanPhone', s, cleanPhone)).toBeNull();
    expect(cleanPhone('+1 555 010 2345 ext. 12')).toBe('+15550102345');
    expect(cleanPhone(`+1 555 010 2345${' '.repeat(60)}`)).toBe('+15550102345'); // padding is trimmed first
    expect(cleanPhone(`+1 555 010 2345 ${'-'.repeat(60)}`)).toBeNull();
  });

  it('cleanEmail: linear, and longer than 254 characters is no email', () => {
    for (const s of [...ATTACKS.email!, ...ATTACKS.text!]) expect(expectFast('cleanEmail', s, cleanEmail)).toBeNull();
    expect(cleanEmail(`${'a'.repeat(240)}@example.com`)).toBe(`${'a'.repeat(240)}@example.com`);
    expect(cleanEmail(`${'a'.repeat(243)}@example.com`)).toBeNull();
  });

  it('stripHtml and textOrNull: linear, output cut to 20,000 characters', () => {
    for (const s of [...ATTACKS.html!, ...ATTACKS.text!, ...ATTACKS.phone!]) {
      const out = expectFast('stripHtml', s, stripHtml) as string | null;
      expect((out ?? '').length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
      const t = expectFast('textOrNull', s, textOrNull) as string | null;
      expect((t ?? '').length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
    }
    expect(stripHtml('<p>a</p><script>x</script>b<br/>c')).toBe('a\nb\nc');
  });

  it('parseAmount and parseTime: linear, overlong values unreadable', () => {
    for (const s of [...ATTACKS.number!, ...ATTACKS.phone!]) {
      expect(expectFast('parseAmount', s, parseAmount)).toBeNull();
      expect(expectFast('parseTime', s, parseTime)).toBeNull();
    }
  });

  it('sentiment, the scorer text path: linear on hostile text', () => {
    for (const s of [...ATTACKS.text!, ...ATTACKS.html!]) expectFast('sentimentOf', s, sentimentOf);
  });

  it('features over hostile texts already in the cache (tickets, survey comments, messages) stay fast', async () => {
    const env = openStore();
    try {
      const texts = [...ATTACKS.text!, ...ATTACKS.html!];
      await load(env.store, [
        contact('c1'),
        ...texts.map((t, i) => ticket('c1', 10 + i, { subject: t, content: t })),
        ...texts.map((t, i) => survey('c1', 'CSAT', 3, 5 + i, t)),
        ...texts.map((t, i) => engagement('emails', 'c1', 20 + i, 'inbound', t)),
      ]);
      const [input] = await readContacts(env.store, PORTAL, ['c1']);
      const { ms, value } = timed(() => computeFeatures(input!, NOW, undefined, NOW));
      // ~45 texts of 100k characters: a few ms each when linear
      expect(ms).toBeLessThan(BUDGET_MS * 8);
      expect(value.tickets).toBe(texts.length);
    } finally {
      await env.cleanup();
    }
  });
});

describe('connectors map hostile records quickly and name what was cut', () => {
  it('HubSpot: overlong phone, email and bodies become data issues, nothing is dropped', () => {
    const contact = expectFast('hubspot contact', ' '.repeat(N) + '!', (junk) =>
      hubspotRecord('hubspot:1', 'contacts', { id: '1', updatedAt: '2026-01-01T00:00:00Z', properties: { email: 'a@' + '.'.repeat(N), phone: '1'.repeat(N) + junk, firstname: '!' + junk + 'Ada' } }, {}, Date.UTC(2026, 0, 2)),
    ) as ReturnType<typeof hubspotRecord>;
    expect(contact.issues).toEqual(expect.arrayContaining([{ code: 'too_long', field: 'contacts.email' }, { code: 'too_long', field: 'contacts.phone' }, { code: 'too_long', field: 'contacts.firstName' }]));
    const d = contact.data as ContactData;
    expect(d.email).toBeNull();
    expect(d.phone).toBeNull();
    expect(d.emailRaw?.length).toBe(N + 2); // the raw value is kept
    const email = expectFast('hubspot email', '<script'.repeat(N / 7), (body) =>
      hubspotRecord('hubspot:1', 'emails', { id: '2', updatedAt: '2026-01-01T00:00:00Z', properties: { hs_timestamp: '2026-01-01T00:00:00Z', hs_email_text: body + ' refund please', hs_email_subject: 'Hi' } }, {}, Date.UTC(2026, 0, 2)),
    ) as ReturnType<typeof hubspotRecord>;
    expect(email.issues).toContainEqual({ code: 'too_long', field: 'emails.text' });
    expect(((email.data as EngagementData).text ?? '').length).toBeLessThanOrEqual(MAX_TEXT_CHARS + 3);
  });

  it('Salesforce: the same caps and issue codes', () => {
    const contact = expectFast('salesforce contact', ' '.repeat(N) + 'x', (junk) =>
      salesforceRecord('salesforce:00D1', 'contacts', { attributes: { type: 'Contact' }, Id: '0031', SystemModstamp: '2026-01-01T00:00:00.000+0000', Email: 'a@a' + '.a'.repeat(N / 2) + '@', Phone: '1 '.repeat(N / 2) + junk } as never, Date.UTC(2026, 0, 2)),
    ) as ReturnType<typeof salesforceRecord>;
    expect(contact.issues).toEqual(expect.arrayContaining([{ code: 'too_long', field: 'contacts.email' }, { code: 'too_long', field: 'contacts.phone' }]));
  });
});
