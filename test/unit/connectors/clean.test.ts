import { describe, expect, it } from 'vitest';
import { cleanEmail, cleanPhone, parseAmount, parseTime, stripHtml } from '../../../src/connectors/clean.ts';
import { decodeCursor, encodeCursor } from '../../../src/connectors/hubspot/cursor.ts';
import { errorFromResponse } from '../../../src/connectors/hubspot/http.ts';
import { toRecord } from '../../../src/connectors/hubspot/mapping.ts';
import type { Cursor, TicketData } from '../../../src/connectors/types.ts';

describe('cleaning', () => {
  it('emails: trim + lower-case, junk → null', () => {
    expect(cleanEmail('  Ada@Example.COM ')).toBe('ada@example.com');
    expect(cleanEmail('nope')).toBeNull();
    expect(cleanEmail('')).toBeNull();
    expect(cleanEmail(null)).toBeNull();
  });
  it('phones: digits with + when international, extensions dropped', () => {
    expect(cleanPhone('+1 (555) 010-2345')).toBe('+15550102345');
    expect(cleanPhone('0044 20 7946 0958')).toBe('+442079460958');
    expect(cleanPhone('555-010-2345 x12')).toBe('5550102345');
    expect(cleanPhone('12')).toBeNull();
    expect(cleanPhone(undefined)).toBeNull();
  });
  it('dates: ISO and epoch ms', () => {
    expect(parseTime('2019-12-07T16:50:06.678Z')).toBe(Date.UTC(2019, 11, 7, 16, 50, 6, 678));
    expect(parseTime('1572480000000')).toBe(1572480000000);
    expect(parseTime('yesterday')).toBeNull();
    expect(parseTime('')).toBeNull();
  });
  it('amounts', () => {
    expect(parseAmount('1,500.00')).toBe(1500);
    expect(parseAmount('$ 20')).toBe(20);
    expect(parseAmount('12abc')).toBeNull();
  });
  it('html', () => {
    expect(stripHtml('<p>Hi&nbsp;<b>there</b></p><p>Bye &amp; thanks</p>')).toBe('Hi there\nBye & thanks');
  });
});

describe('mapping', () => {
  it('tickets: closed state, reopen count, issues for bad values — raw record kept', () => {
    const r = toRecord(
      'hubspot:1',
      'tickets',
      {
        id: '9',
        updatedAt: '2026-01-02T00:00:00.000Z',
        properties: {
          hs_lastmodifieddate: '2026-01-02T00:00:00.000Z',
          createdate: '2026-01-01T00:00:00.000Z',
          closed_date: '2026-01-01T12:00:00.000Z',
          hs_ticket_priority: 'high',
          reopen_count: '2',
          time_to_close: 'soon',
        },
      },
      { contacts: ['5', '3', '5'], companies: [{ id: '7', primary: false }] },
      Date.UTC(2026, 0, 3),
    );
    expect(r).toMatchObject({ id: '9', type: 'tickets', updatedAt: Date.UTC(2026, 0, 2), deleted: false, contactIds: ['3', '5'], companyId: '7' });
    const d = r.data as TicketData;
    expect(d).toMatchObject({ priority: 'HIGH', isClosed: true, reopenedCount: 2, timeToCloseMs: 12 * 3_600_000 });
    expect(r.issues).toContainEqual({ code: 'not_a_number', field: 'tickets.timeToCloseMs' });
  });
  it('tombstones sort after the last live version', () => {
    const r = toRecord(
      'hubspot:1',
      'contacts',
      { id: '1', updatedAt: '2026-01-01T00:00:00.000Z', archived: true, archivedAt: '2026-02-01T00:00:00.000Z', properties: {} },
      {},
      0,
    );
    expect(r.deleted).toBe(true);
    expect(r.updatedAt).toBe(Date.UTC(2026, 1, 1));
  });
});

describe('cursor', () => {
  it('round-trips and refuses garbage without throwing', () => {
    const c = encodeCursor({ phase: 'search', since: 5, afterId: null, sweptAt: 1, deletionsAt: 2 });
    expect(decodeCursor(c)).toEqual({ ok: true, state: { phase: 'search', since: 5, afterId: null, sweptAt: 1, deletionsAt: 2 } });
    expect(decodeCursor('%%%' as Cursor).ok).toBe(false);
    const wrong = Buffer.from(JSON.stringify({ phase: 'search', since: 'x' })).toString('base64url') as Cursor;
    expect(decodeCursor(wrong)).toMatchObject({ ok: false, phase: 'search' });
  });
});

describe('HubSpot error mapping', () => {
  const h = (o: Record<string, string> = {}) => new Headers(o);
  it('maps statuses and bodies to kinds', () => {
    expect(errorFromResponse(401, '{"category":"EXPIRED_AUTHENTICATION","message":"expired"}', h(), 'GET /x').kind).toBe('auth');
    const f = errorFromResponse(403, JSON.stringify({ category: 'MISSING_SCOPES', message: 'no', errors: [{ context: { requiredScopes: ['tickets'] } }] }), h(), 'GET /x');
    expect(f.kind).toBe('forbidden');
    expect(f.message).toContain('tickets');
    const r = errorFromResponse(429, '{"policyName":"SECONDLY","message":"You have reached your secondly limit."}', h(), 'POST /s');
    expect(r).toMatchObject({ kind: 'rate_limited', details: { policy: 'SECONDLY', retryAfterMs: 1000 } });
    expect(errorFromResponse(429, '{"policyName":"TEN_SECONDLY_ROLLING"}', h({ 'retry-after': '3' }), 'GET /x').details.retryAfterMs).toBe(3000);
    expect(errorFromResponse(502, 'bad gateway', h(), 'GET /x').kind).toBe('unavailable');
    expect(errorFromResponse(501, '{}', h(), 'GET /x').kind).toBe('invalid_request');
    expect(errorFromResponse(409, '{"category":"CONFLICT"}', h(), 'POST /x')).toMatchObject({ kind: 'invalid_request', details: { code: 'CONFLICT' } });
  });
});
