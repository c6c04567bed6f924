import { afterEach, describe, expect, it } from 'vitest';
import { computeFeatures, outcomesBetween, readContactChunks, NEVER_DAYS } from '../../../src/scoring/features.ts';
import { describeIssue } from '../../../src/scoring/explain.ts';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { sentimentOf } from '../../../src/scoring/sentiment.ts';
import { contact, daysAgo, engagement, inputOf, load, NOW, openStore, purchase, survey, ticket, PORTAL, DAY } from './fixtures.ts';
import type { Store } from '../../../src/store/index.ts';

// computeFeatures is pure: its inputs are assembled in memory (fixtures.inputOf), no store.
let env: { store: Store; cleanup: () => Promise<void> } | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

describe('features as of a date', () => {
  it('counts only events at or before as-of and rebuilds past state from dates (no leakage)', async () => {
    const records = [
      contact('c1'),
      purchase('c1', 300, 500),
      purchase('c1', 150, 700),
      purchase('c1', 20, 900), // after the cut-off below
      ticket('c1', 110, { closedAt: daysAgo(95), isClosed: true, priority: 'HIGH' }), // closed after cut-off → open then
      ticket('c1', 30), // created after the cut-off
      survey('c1', 'NPS', 2, 40, 'terrible, broken again'), // after the cut-off
      survey('c1', 'CSAT', 5, 200),
      engagement('emails', 'c1', 105, 'inbound', 'thanks, great help'),
      engagement('calls', 'c1', 10, 'inbound'),
    ];
    const input = inputOf(records, 'c1');
    const asOf = daysAgo(100);
    const f = computeFeatures(input, asOf, undefined, NOW);
    expect(f.exists).toBe(true);
    expect(f.purchases).toBe(2);
    expect(f.monetaryTotal).toBe(1200);
    expect(f.recencyDays).toBeCloseTo(50, 6);
    expect(f.daysSinceFirstPurchase).toBeCloseTo(200, 6);
    expect(f.tickets).toBe(1);
    expect(f.openTickets).toBe(1);
    expect(f.openHighPriority).toBe(1);
    expect(f.closedTickets).toBe(0);
    expect(f.surveys).toBe(1);
    expect(f.surveyScore).toBe(1); // CSAT 5 on a 1–5 scale
    expect(f.npsLast).toBeNull();
    expect(f.inbound90d).toBe(1);
    expect(f.channelCounts).toEqual({ emails: 1, calls: 0, meetings: 0, tickets: 1 });
    expect(f.sentiment).toBeGreaterThan(0);
    expect(f.dataIssues).toEqual([]);

    // the same contact today sees everything
    const g = computeFeatures(input, NOW, undefined, NOW);
    expect(g.purchases).toBe(3);
    expect(g.recencyDays).toBeCloseTo(20, 6);
    expect(g.tickets).toBe(2);
    expect(g.openTickets).toBe(0);
    expect(g.npsLast).toBe(2);
    expect(g.surveyScore).toBeCloseTo((1 + 0.2) / 2, 10); // CS = mean((x−min)/(max−min)) on scale bounds
    expect(g.negativeTexts).toBeGreaterThan(0);

    const o = outcomesBetween(input, asOf, asOf + 90 * DAY);
    expect(o).toEqual({ purchased: true, inboundActivity: true, newTicket: true });
  });

  it('a contact created after as-of does not exist yet; never-bought contacts get the cap', async () => {
    const records = [contact('new', { createdAt: daysAgo(10) })];
    const f = computeFeatures(inputOf(records, 'new'), daysAgo(30), undefined, NOW);
    expect(f.exists).toBe(false);
    const g = computeFeatures(inputOf(records, 'new'), NOW, undefined, NOW);
    expect(g.exists).toBe(true);
    expect(g.recencyDays).toBe(NEVER_DAYS);
    expect(g.daysSinceInbound).toBe(NEVER_DAYS);
    expect(g.tenureDays).toBeCloseTo(10, 6);
  });

  it('bad data is named and lowers the data-quality figure, never throws', async () => {
    const records: CrmRecord[] = [
      { ...contact('bad', { createdAt: NOW + 30 * DAY }), issues: [{ code: 'duplicate_email', field: 'contacts.email' }] },
      { ...purchase('bad', 40, null, 'N/A'), issues: [{ code: 'not_a_number', field: 'deals.amount' }] },
      { ...purchase('bad', 30, 100), issues: [{ code: 'future_date', field: 'deals.createdAt' }] },
      survey('bad', 'NPS', 11, 20),
      survey('bad', 'CSAT', null, 25, null, 'five'),
      engagement('emails', 'bad', -5, 'inbound'), // dated in the future
      { ...ticket('bad', 10), data: { ...(ticket('bad', 10).data as object), createdAt: null } as never },
    ];
    const f = computeFeatures(inputOf(records, 'bad'), NOW, undefined, NOW);
    // one value per (code, field): the connector's "non-numeric amount" and scoring's are one issue
    expect(f.dataIssues).toEqual([
      { code: 'duplicate_email', field: 'contacts.email' },
      { code: 'future_date', field: 'contacts.createdAt' },
      { code: 'future_date', field: 'deals.createdAt' },
      { code: 'future_date', field: 'emails.at' },
      { code: 'missing', field: 'tickets.createdAt' },
      { code: 'not_a_number', field: 'deals.amount' },
      { code: 'not_a_number', field: 'feedback_submissions.value' },
      { code: 'out_of_range', field: 'feedback_submissions.value' },
    ]);
    // and in words, with no CRM property name
    expect(f.dataIssues.map(describeIssue)).toEqual([
      'possible duplicate contact (same email)',
      'date in the future (contact create date)',
      'date in the future (deal create date)',
      'date in the future (email date)',
      'missing ticket create date',
      'non-numeric value (deal amount)',
      'non-numeric value (survey answer)',
      'survey answer outside its scale',
    ]);
    expect(f.dataQuality).toBeLessThan(0.6);
    expect(f.dataQuality).toBeGreaterThanOrEqual(0.4);
    expect(f.purchases).toBe(2); // the purchase still counts, its amount does not
    expect(f.amountCount).toBe(1);
    expect(f.surveys).toBe(0);
    expect(f.exists).toBe(true); // an impossible create date is ignored, not trusted
  });

  it('reads every contact once, in bounded chunks, with its linked records', async () => {
    env = openStore();
    const recs = [];
    for (let i = 0; i < 7; i++) {
      const id = `c${i}`;
      recs.push(contact(id), purchase(id, 10 + i), engagement('calls', id, 5, 'inbound'));
    }
    recs.push({ ...contact('gone'), deleted: true });
    await load(env.store, recs);
    const chunks = [];
    for await (const chunk of readContactChunks(env.store, PORTAL, 3)) chunks.push(chunk);
    expect(chunks.map((c) => c.length)).toEqual([3, 3, 1]);
    const all = chunks.flat();
    expect(all.map((c) => c.id)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    for (const c of all) expect(c.linked.map((l) => l.type).sort()).toEqual(['calls', 'deals']);
  });
});

describe('sentiment lexicon', () => {
  it('scores polarity, handles negation and empty input', () => {
    expect(sentimentOf('Thanks, this is great!').score).toBeGreaterThan(0.5);
    expect(sentimentOf('Still broken, I want a refund').score).toBeLessThan(-0.5);
    expect(sentimentOf('not good').score).toBeLessThan(0);
    expect(sentimentOf("that wasn't helpful").score).toBeLessThan(0);
    expect(sentimentOf('')).toEqual({ score: 0, hits: 0 });
    expect(sentimentOf(null)).toEqual({ score: 0, hits: 0 });
    expect(sentimentOf('the invoice for March').hits).toBe(0);
  });
});
