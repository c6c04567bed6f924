import { describe, expect, it } from 'vitest';
import { buildSoql, decodeCursor, encodeCursor } from '../../src/connectors/salesforce/changes.ts';
import { parseSfTime, toRecord, type SfRecord } from '../../src/connectors/salesforce/mapping.ts';
import type { CompanyData, ContactData, FeedbackData, TicketData } from '../../src/connectors/types.ts';
import type { Cursor } from '../../src/connectors/types.ts';
import { parseSoql } from '../../src/sandbox/salesforce/soql.ts';

const NOW = Date.UTC(2026, 0, 5);
const base = (over: Record<string, unknown>): SfRecord => ({
  Id: '0035g0000000001AAA',
  IsDeleted: false,
  CreatedDate: '2025-06-01T10:00:00.000+0000',
  SystemModstamp: '2025-12-01T10:00:00.000+0000',
  ...over,
});

describe('Salesforce mapping', () => {
  it('reads Salesforce datetimes (+0000 without a colon) and plain dates', () => {
    expect(parseSfTime('2013-05-20T20:49:32.000+0000')).toBe(Date.UTC(2013, 4, 20, 20, 49, 32));
    expect(parseSfTime('2013-05-20T22:49:32.000+0200')).toBe(Date.UTC(2013, 4, 20, 20, 49, 32));
    expect(parseSfTime('2013-05-20')).toBe(Date.UTC(2013, 4, 20));
    expect(parseSfTime(null)).toBeNull();
  });

  it('cleans contacts like every connector and keeps the raw values', () => {
    const r = toRecord('salesforce:00D', 'contacts', base({ Email: ' Ada@Example.COM ', Phone: 'n/a', FirstName: ' Ada ', AccountId: '0015g0000000001AAA' }), NOW);
    expect(r).toMatchObject({ type: 'contacts', companyId: '0015g0000000001AAA', contactIds: undefined, updatedAt: Date.UTC(2025, 11, 1, 10), deleted: false });
    const d = r.data as ContactData;
    expect([d.email, d.emailRaw, d.phone, d.firstName]).toEqual(['ada@example.com', ' Ada@Example.COM ', null, 'Ada']);
    expect(r.issues).toEqual([{ code: 'invalid_phone', field: 'contacts.phone' }]);
    const bad = toRecord('salesforce:00D', 'contacts', base({ Email: 'not-an-email' }), NOW);
    expect(bad.issues).toContainEqual({ code: 'invalid_email', field: 'contacts.email' });
  });

  it('maps cases, surveys and accounts onto the normalized shapes, with issues for messy values', () => {
    const t = toRecord('p', 'tickets', base({ Id: '5005g0000000001AAA', Priority: 'Critical', IsClosed: true, ClosedDate: '2025-06-02T10:00:00.000+0000', Reopen_Count__c: 2, ContactId: '0035g0000000009AAA', Status: 'Closed' }), NOW);
    expect(t.contactIds).toEqual(['0035g0000000009AAA']);
    expect(t.data as TicketData).toMatchObject({ priority: 'URGENT', isClosed: true, timeToCloseMs: 86_400_000, reopenedCount: 2, stage: 'Closed' });
    const f = toRecord('p', 'feedback_submissions', base({ Type__c: 'nps', Score__c: '9/10', Contact__c: '0035g0000000009AAA' }), NOW);
    expect(f.data as FeedbackData).toMatchObject({ surveyType: 'NPS', value: null, valueRaw: '9/10' });
    expect(f.issues).toEqual([{ code: 'not_a_number', field: 'feedback_submissions.value' }]);
    const a = toRecord('p', 'companies', base({ Website: 'https://www.Acme.com/about', Contacts: { totalSize: 1, done: true, records: [{ Id: '0035g0000000009AAA' }] } }), NOW);
    expect((a.data as CompanyData).domain).toBe('acme.com');
    expect(a.contactIds).toEqual(['0035g0000000009AAA']);
  });

  it('takes contacts from the lookup and the relation rows, ignoring leads (00Q)', () => {
    const r = toRecord(
      'p',
      'calls',
      base({ Id: '00T5g0000000001AAA', WhoId: '00Q5g0000000001AAA', TaskWhoRelations: { totalSize: 2, done: true, records: [{ RelationId: '0035g0000000002AAA' }, { RelationId: '00Q5g0000000001AAA' }] } }),
      NOW,
    );
    expect(r.contactIds).toEqual(['0035g0000000002AAA']);
  });

  it('sends SOQL the emulator parser accepts, for every type, and cursors survive a round trip', () => {
    for (const type of ['contacts', 'companies', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions'] as const) {
      expect(() => parseSoql(buildSoql(type, "SystemModstamp > 2026-01-05T09:00:00Z OR (SystemModstamp = 2026-01-05T09:00:00Z AND Id > '0035g0000000001AAA')", 2000))).not.toThrow();
    }
    const c = encodeCursor({ v: 1, since: NOW, lastId: '003x' });
    expect(decodeCursor(c)).toEqual({ v: 1, since: NOW, lastId: '003x' });
    expect(decodeCursor('{"v":2}' as Cursor)).toBe('invalid');
    expect(decodeCursor(null)).toBeNull();
  });
});
