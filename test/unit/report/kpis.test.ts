/**
 * KPI tiles on a hand-made store: every value is worked out by hand below (comments) and must
 * match exactly; the rendered page carries them and degrades to plain notices where a 7-contact
 * cache cannot support curves or segments.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { buildReport, collectReport, type ReportData } from '../../../src/report/index.ts';
import { median, wilson } from '../../../src/report/kpis.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import type { Store } from '../../../src/store/index.ts';
import { contact, DAY, daysAgo, engagement, load, NOW, openStore, PORTAL, purchase, survey, ticket } from '../scoring/fixtures.ts';
import { assertSelfContained } from './html-checks.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

function handMade(): CrmRecord[] {
  const shared = engagement('emails', 'a', 12, 'inbound', 'hello'); // one email, two contacts: counted once
  return [
    // a: customer since 400 d; CSAT 5, 4, 2 in the window (3 is 100 days old: outside); NPS 10.
    contact('a'),
    purchase('a', 400),
    survey('a', 'CSAT', 5, 10),
    survey('a', 'CSAT', 4, 20),
    survey('a', 'CSAT', 2, 30),
    survey('a', 'CSAT', 3, 100),
    survey('a', 'NPS', 10, 5),
    { ...shared, contactIds: ['a', 'c'] },
    engagement('emails', 'a', 30, 'outbound'), // rep email, answered 3 days later ↓
    engagement('emails', 'a', 27, 'inbound'),
    engagement('emails', 'a', 8, 'outbound'), // rep email, no reply after it
    // b: CSAT 1 (and an invalid 6), NPS 9 and 7; a ticket closed in 5 days but reopened.
    contact('b'),
    purchase('b', 380),
    survey('b', 'CSAT', 1, 40),
    survey('b', 'CSAT', 6, 41),
    survey('b', 'NPS', 9, 50),
    survey('b', 'NPS', 7, 60),
    ticket('b', 50, { closedAt: daysAgo(50) + 5 * DAY, reopenedCount: 1 }),
    // c: NPS 3, 6, 0; two tickets: the first followed by the second 4 days after closing.
    contact('c'),
    purchase('c', 500),
    survey('c', 'NPS', 3, 15),
    survey('c', 'NPS', 6, 16),
    survey('c', 'NPS', 0, 17),
    ticket('c', 60),
    ticket('c', 55, { closedAt: daysAgo(55) + DAY / 2 }),
    // d: new, silent.
    contact('d', { createdAt: daysAgo(30) }),
    // e: bought 390 d ago, then only a (too recent) rep email: churned.
    contact('e'),
    purchase('e', 390),
    engagement('emails', 'e', 3, 'outbound'),
    // f: wrote 370 d ago, since then only rep touches: churned.
    contact('f'),
    engagement('emails', 'f', 370, 'inbound'),
    engagement('emails', 'f', 20, 'outbound'),
    engagement('calls', 'f', 10, 'outbound'),
    // g: silent before t₀ (not in the churn base); a ticket closed in 2 days.
    contact('g'),
    ticket('g', 20, { closedAt: daysAgo(20) + 2 * DAY }),
  ];
}

describe('report KPIs on a hand-made store', () => {
  it('equal the values computed by hand, over the stated windows', async () => {
    env = openStore();
    await load(env.store, handMade());
    await scoreContacts(env.store, PORTAL, { contactIds: 'all', now: NOW });
    const data = await collectReport(env.store, PORTAL) as ReportData;
    expect('error' in data).toBe(false);
    expect(data.asOf).toBe(NOW); // the last scoring
    const k = Object.fromEntries(data.kpis.map((x) => [x.key, x]));

    // CSAT: answers 5, 4, 2, 1 in the window (6 invalid, 3 too old) → 2 of 4 top-2-box.
    expect(k['csat']?.value).toBe(50);
    expect(k['csat']?.n).toBe(4);
    // with its 95 % Wilson interval for 2 of 4 (0.150–0.850), flagged as indicative below 30 answers
    expect(k['csat']?.secondary).toBe('95 % interval 15.0–85.0 % (Wilson); n < 30: indicative only');
    // NPS: 10, 9 promoters; 7 passive; 3, 6, 0 detractors → (2 − 3) / 6.
    expect(k['nps']?.value).toBeCloseTo((100 * (2 - 3)) / 6, 10);
    expect(k['nps']?.n).toBe(6);
    expect(k['nps']?.display).toBe('-17');
    // Churn (90 d, confirmed over 270 d; t₀ = now − 360 d): the base is the buyers of the 360 days up
    // to t₀: a, b, c, e (f only wrote: messages are never the label; g silent, d too new). None of
    // them bought again from t₀ + 90 d on: all four churned, however much a, b and c wrote, answered
    // surveys or opened tickets since (the old label counted those as staying: 2 of 5).
    expect(k['churn_rate']?.n).toBe(4);
    expect(k['churn_rate']?.value).toBe(100);
    expect(k['churn_rate']?.window.from).toBe(NOW - 360 * DAY);
    // Contact rate: inbound emails of a (12 d, shared with c, once; 27 d) + tickets of b, c, c, g = 6 over 7 contacts.
    expect(k['contact_rate']?.value).toBeCloseTo(6 / 7, 12);
    expect(k['contact_rate']?.n).toBe(7);
    // Communication: rep emails 30 d (answered), 8 d (not), f's 20 d (not); e's 3 d is too recent.
    expect(k['communication_efficiency']?.n).toBe(3);
    expect(k['communication_efficiency']?.value).toBeCloseTo(100 / 3, 10);
    // Service: close times 5 (b), 1 and 0.5 (c), 2 (g) days → median 1.5; FCR only c's second ticket of 4.
    expect(k['service_efficiency']?.value).toBeCloseTo(1.5, 10);
    expect(k['service_efficiency']?.n).toBe(4);
    expect(k['service_efficiency']?.secondary).toContain('25.0 % of 4');
    // Feedback: active a, b, c, e (rep email), f (rep touches), g (ticket); respondents a, b, c.
    expect(k['feedback_rate']?.n).toBe(6);
    expect(k['feedback_rate']?.value).toBe(50);
    // CLV: the mean of the saved per-contact CLV over buyers (a, b, c, e), read back independently.
    const clvs: number[] = [];
    for (const id of ['a', 'b', 'c', 'e']) clvs.push((await env?.store.scores.get(PORTAL, id))?.extra['clv'] as number);
    expect(k['avg_clv']?.n).toBe(4);
    expect(k['avg_clv']?.value).toBeCloseTo(clvs.reduce((s, v) => s + v, 0) / 4, 6);

    // Every tile states its definition.
    for (const tile of data.kpis) expect(tile.definition.length).toBeGreaterThan(60);
  });

  it('a shorter window changes what counts, and the page shows the tiles with notices instead of curves', async () => {
    env = openStore();
    await load(env.store, handMade());
    await scoreContacts(env.store, PORTAL, { contactIds: 'all', now: NOW });
    const short = await collectReport(env.store, PORTAL, { windowDays: 15 }) as ReportData;
    // only a's 5 and 10 d answers are within 15 days (c's 15 d NPS is on the edge: (now − 15 d, now] excludes it)
    expect(short.kpis.find((x) => x.key === 'csat')?.value).toBe(100);
    expect(short.kpis.find((x) => x.key === 'nps')?.n).toBe(1);

    const r = await buildReport(env.store, PORTAL, { generatedAt: NOW });
    if ('error' in r) throw new Error(r.message);
    for (const id of ['kpis', 'distributions', 'models', 'segments', 'bgnbd', 'kpi-csat', 'kpi-nps', 'kpi-churn_rate', 'kpi-avg_clv', 'kpi-contact_rate', 'kpi-communication_efficiency', 'kpi-service_efficiency', 'kpi-feedback_rate']) {
      expect(r.html.includes(`id="${id}"`), id).toBe(true);
    }
    expect(r.html.includes('data-value="50"')).toBe(true);
    expect(r.html.includes('too few for segments')).toBe(true);
    expect(r.html.match(/not enough labelled history/g)?.length).toBe(2); // churn and service need
    assertSelfContained(r.html);
  });

  it('Wilson intervals and medians match published values', () => {
    // Wilson 95 %: 0/10 → [0, 0.2775]; 2/4 → [0.150, 0.850]; 81/263 → [0.2553, 0.3662] (Newcombe 1998, table I, p = 0.3080)
    expect(wilson(0, 10)?.[1]).toBeCloseTo(27.75, 2);
    expect(wilson(2, 4)?.map((x) => Math.round(x * 10) / 10)).toEqual([15, 85]);
    const w = wilson(81, 263) as [number, number];
    expect(w[0]).toBeCloseTo(25.53, 1);
    expect(w[1]).toBeCloseTo(36.62, 1);
    expect(wilson(0, 0)).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it('says to score first when nothing is scored, and names an empty cache', async () => {
    env = openStore();
    const nothing = await collectReport(env.store, PORTAL);
    expect(nothing).toMatchObject({ error: 'not_scored' });
    expect((nothing as { message: string }).message).toContain('rapport score --all');
    await load(env.store, [contact('a')]);
    expect(await collectReport(env.store, PORTAL)).toMatchObject({ error: 'not_scored' });
  });
});
