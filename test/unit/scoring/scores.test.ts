import { afterEach, describe, expect, it } from 'vitest';
import { agoText, confidenceLine, describeIssue, grouped } from '../../../src/scoring/explain.ts';
import { readContacts } from '../../../src/scoring/features.ts';
import { loadPortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreOne } from '../../../src/scoring/score-portal.ts';
import type { Store } from '../../../src/store/index.ts';
import type { ContactScores } from '../../../src/store/scores.ts';
import type { CrmRecord, DataIssue } from '../../../src/connectors/types.ts';
import { contact, daysAgo, engagement, load, NOW, openStore, PORTAL, purchase, survey, ticket } from './fixtures.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

/** Scores each hand-made contact with the cold-start models. */
async function scoreAll(records: CrmRecord[]): Promise<Map<string, ContactScores>> {
  env = openStore();
  await load(env.store, records);
  const ids = records.filter((r) => r.type === 'contacts').map((r) => r.id);
  const models = await loadPortalModels(env.store, PORTAL);
  return new Map((await readContacts(env.store, PORTAL, ids)).map((c) => [c.id, scoreOne(c, undefined, models, NOW)]));
}

const texts = (s: { reasons: { text: string }[] }) => s.reasons.map((r) => r.text);
const get = (m: Map<string, ContactScores>, id: string) => {
  const s = m.get(id);
  if (s === undefined) throw new Error(`not scored: ${id}`);
  return s;
};

describe('satisfaction', () => {
  it('happy answers and quick tickets score high, a detractor with reopened tickets low, with reasons', async () => {
    const m = await scoreAll([
      contact('happy'),
      survey('happy', 'NPS', 10, 20, 'Great service, thanks'),
      survey('happy', 'CSAT', 5, 60),
      ticket('happy', 50),
      contact('unhappy'),
      survey('unhappy', 'NPS', 2, 20, 'Terrible. Still broken, I want a refund'),
      ticket('unhappy', 40, { reopenedCount: 2, closedAt: daysAgo(20), timeToCloseMs: 20 * 86_400_000 }),
      ticket('unhappy', 5, { isClosed: false, closedAt: null, priority: 'URGENT' }),
      contact('silent'),
    ]);
    const happy = get(m, 'happy').satisfaction;
    const unhappy = get(m, 'unhappy').satisfaction;
    const silent = get(m, 'silent').satisfaction;
    expect(happy.value).toBeGreaterThan(80);
    expect(happy.band).toBe('green');
    // one detractor answer is shrunk towards the account prior (k = 2), so not all the way down
    expect(unhappy.value).toBeLessThan(42);
    expect(unhappy.band).not.toBe('green');
    expect(silent.value).toBeGreaterThan(unhappy.value + 25);
    expect(texts(unhappy)).toEqual(expect.arrayContaining(['NPS answer 2/10 (detractor)', '1 reopened ticket', '1 open high-priority ticket']));
    expect(unhappy.reasons.find((r) => r.text.startsWith('NPS'))?.impact).toBeLessThan(0);
    // no evidence: the prior, with low confidence
    expect(silent.value).toBeCloseTo(72, 0);
    expect(silent.confidence).toBe(0);
    expect(texts(silent)).toContain('no feedback yet: account average');
    expect(happy.confidence).toBeGreaterThan(0.5);
  });

  it('one answer moves the score only part of the way (shrinkage)', async () => {
    const m = await scoreAll([contact('one'), survey('one', 'NPS', 0, 10), contact('many')]);
    const extra = [];
    for (let i = 0; i < 8; i++) extra.push(survey('many', 'NPS', 0, 10 + i));
    env?.cleanup();
    const m2 = await scoreAll([contact('many'), ...extra]);
    expect(get(m, 'one').satisfaction.value).toBeGreaterThan(get(m2, 'many').satisfaction.value);
    expect(get(m, 'one').satisfaction.value).toBeGreaterThan(30);
    expect(get(m2, 'many').satisfaction.value).toBeLessThan(20);
  });
});

describe('loyalty', () => {
  it('a frequent recent buyer beats a lapsed one; non-buyers score 0 with a reason', async () => {
    const recs: CrmRecord[] = [contact('loyal'), contact('lapsed'), contact('prospect')];
    for (let i = 0; i < 8; i++) recs.push(purchase('loyal', 10 + i * 40, 1500));
    recs.push(purchase('lapsed', 300, 800), purchase('lapsed', 280, 800), purchase('lapsed', 140, 800));
    const m = await scoreAll(recs);
    const loyal = get(m, 'loyal');
    const lapsed = get(m, 'lapsed');
    expect(loyal.loyalty.value).toBeGreaterThan(lapsed.loyalty.value + 20);
    expect(loyal.loyalty.band).toBe('green');
    // the reason reads in the direction it pushes (issue 11)
    expect(texts(lapsed.loyalty).some((t) => t.startsWith('no purchase in 140 days: '))).toBe(true);
    for (const s of [loyal, lapsed]) {
      for (const r of s.loyalty.reasons) {
        if (r.text.includes('pace')) expect(r.text.endsWith(r.impact < 0 ? "below this account's usual pace" : "above this account's usual pace")).toBe(true);
        if (/purchase in|bought/.test(r.text) && !r.text.includes('pace')) expect(r.text.endsWith(r.impact < 0 ? 'may have stopped buying' : 'still buying')).toBe(true);
      }
    }
    const recencyImpact = (s: ContactScores) => s.loyalty.reasons.find((r) => /purchase in|bought/.test(r.text))?.impact ?? NaN;
    expect(recencyImpact(lapsed)).toBeLessThan(recencyImpact(loyal));
    expect(lapsed.extra['pAlive']).toBeLessThan(loyal.extra['pAlive'] as number);
    expect(loyal.extra['clv']).toBeGreaterThan(0);
    expect(loyal.extra['rfm']).toMatch(/^[1-5]{3}$/);
    expect(get(m, 'prospect').loyalty.value).toBe(0);
    expect(texts(get(m, 'prospect').loyalty)).toContain('no purchases yet');
  });
});

describe('churn risk and service need (cold-start models)', () => {
  it('a silent lapsed customer is riskier than an active one, in plain words', async () => {
    const recs: CrmRecord[] = [contact('active'), contact('quiet')];
    for (let i = 0; i < 6; i++) recs.push(purchase('active', 5 + i * 30), engagement('emails', 'active', 3 + i * 20, 'inbound', 'thanks'));
    recs.push(purchase('quiet', 400), purchase('quiet', 250), engagement('calls', 'quiet', 240, 'inbound'));
    const m = await scoreAll(recs);
    const active = get(m, 'active').churnRisk;
    const quiet = get(m, 'quiet').churnRisk;
    expect(quiet.value).toBeGreaterThan(active.value + 20);
    expect(quiet.band).toBe('red');
    expect(active.band).toBe('green');
    expect(texts(quiet)).toContain('no purchase in 250 days');
    expect(quiet.reasons.find((r) => r.text === 'no purchase in 250 days')?.impact).toBeGreaterThan(0);
    expect(texts(quiet)).toContain('not enough history to train on: using the default model');
    expect(get(m, 'quiet').health).toBe('red');
  });

  it('the purchase-pattern reason speaks the churn score’s language: a direction and points, never a second chance of churning', async () => {
    const recs: CrmRecord[] = [contact('active'), contact('lapsed')];
    for (let i = 0; i < 8; i++) recs.push(purchase('active', 5 + i * 30));
    recs.push(purchase('lapsed', 500), purchase('lapsed', 450), purchase('lapsed', 400), purchase('lapsed', 350));
    const m = await scoreAll(recs);
    const pattern = (id: string) => get(m, id).churnRisk.reasons.filter((r) => r.text.startsWith('buying pattern'));
    const lapsed = pattern('lapsed');
    const active = pattern('active');
    expect(lapsed).toHaveLength(1);
    expect(lapsed[0]?.text).toBe('buying pattern suggests they may have stopped buying');
    expect(lapsed[0]?.impact).toBeGreaterThan(0);
    expect(active).toHaveLength(1);
    expect(active[0]?.text).toBe('buying pattern suggests they are still buying');
    expect(active[0]?.impact).toBeLessThan(0);
    // the headline is the only probability: no reason quotes a percentage or a "chance"
    for (const id of ['active', 'lapsed']) for (const t of texts(get(m, id).churnRisk)) expect(t).not.toMatch(/%|chance/);
  });

  it('recent and open tickets raise service need; the likely channel follows the contact’s habits', async () => {
    const recs: CrmRecord[] = [contact('needy'), contact('calm')];
    recs.push(ticket('needy', 3, { isClosed: false, closedAt: null }), ticket('needy', 12), ticket('needy', 25));
    for (let i = 0; i < 5; i++) recs.push(engagement('calls', 'calm', 100 + i * 10, 'inbound'));
    const m = await scoreAll(recs);
    expect(get(m, 'needy').serviceNeed.value).toBeGreaterThan(get(m, 'calm').serviceNeed.value + 20);
    expect(get(m, 'needy').extra['likelyChannel']).toBe('tickets');
    expect(get(m, 'calm').extra['likelyChannel']).toBe('calls');
    // 5 calls + 2 pseudo-contacts spread by the portal mix: (5 + 2·0.25) / 7 = 79 %
    expect(get(m, 'calm').extra['channelProbability']).toBeCloseTo(0.79, 2);
    // reasons are score points only: the channel is on the tile, not a reason
    expect(texts(get(m, 'calm').serviceNeed).some((t) => t.includes('reach out'))).toBe(false);
  });
});

describe('bad data', () => {
  it('lowers every confidence and is named once, in the confidence line, never as a reason', async () => {
    const clean = [contact('clean'), purchase('clean', 30, 900), survey('clean', 'CSAT', 4, 20)];
    const dirty: CrmRecord[] = [
      { ...contact('dirty'), issues: [{ code: 'duplicate_email', field: 'contacts.email' }] },
      purchase('dirty', 30, null, 'N/A'),
      survey('dirty', 'CSAT', 4, 20),
      survey('dirty', 'NPS', 11, 15),
    ];
    const m = await scoreAll([...clean, ...dirty]);
    const c = get(m, 'clean');
    const d = get(m, 'dirty');
    for (const k of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const) {
      expect(d[k].confidence).toBeLessThan(c[k].confidence);
      // data problems lower confidence, not the score: never a reason (issue 17)
      expect(d[k].reasons.map((r) => r.text).join(' | ')).not.toMatch(/data problem|non-numeric|duplicate|outside its scale/);
    }
    expect(confidenceLine(d.confidence, d.extra['dataIssues'] as DataIssue[])).toBe(
      `confidence ${Math.round(d.confidence * 100)} % — possible duplicate contact (same email), non-numeric value (deal amount), survey answer outside its scale`,
    );
    expect(confidenceLine(c.confidence, [])).toBe(`confidence ${Math.round(c.confidence * 100)} %`);
    expect(d.confidence).toBeLessThan(c.confidence);
    expect(d.extra['dataIssues']).toEqual([
      { code: 'duplicate_email', field: 'contacts.email' },
      { code: 'not_a_number', field: 'deals.amount' },
      { code: 'out_of_range', field: 'feedback_submissions.value' },
    ]);
    for (const s of [c, d]) for (const k of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const) {
      expect(Number.isFinite(s[k].value)).toBe(true);
      expect(s[k].value).toBeGreaterThanOrEqual(0);
      expect(s[k].value).toBeLessThanOrEqual(100);
    }
  });
});

describe('wording a rep reads', () => {
  it('"today" and "yesterday", never "0 days ago"', () => {
    expect(agoText(0.2)).toBe('today');
    expect(agoText(1)).toBe('yesterday');
    expect(agoText(12.4)).toBe('12 days ago');
  });

  it('large numbers are grouped digits, never "1e,+21" (issue 15 item 11)', () => {
    expect(grouped(12345.6)).toBe('12,346');
    expect(grouped(1e21)).toBe('1,000,000,000,000,000,000,000');
    expect(grouped(-794466592522648)).toBe('-794,466,592,522,648');
    expect(grouped(Number.POSITIVE_INFINITY)).toBe('unknown');
  });

  it('data issues name our fields as a rep knows them, never a CRM property or an internal key', () => {
    expect(describeIssue({ code: 'future_date', field: 'deals.closedAt' })).toBe('date in the future (deal close date)');
    expect(describeIssue({ code: 'unparsable_date', field: 'calls.at' })).toBe('unreadable date (call date)');
    expect(describeIssue({ code: 'too_long', field: 'contacts.lifecycleStage' })).toBe('value too long to use (contact lifecycle stage)');
    expect(describeIssue({ code: 'implausible_number', field: 'companies.employees' })).toBe('implausible number (company size)');
    // a property no mapping table knows reads as the record's "field", not as its CRM name
    expect(describeIssue({ code: 'not_a_number', field: 'deals.other' })).toBe('non-numeric value (deal field)');
  });

  it('a loyalty minus reads as one ("below this account\'s usual pace"), a recent purchase as "today"', async () => {
    env = openStore();
    const history = [contact('slow', { createdAt: daysAgo(720) }), purchase('slow', 710), purchase('slow', 30)];
    const recent = [contact('fresh'), purchase('fresh', 300), purchase('fresh', 100), purchase('fresh', 0)];
    await load(env.store, [...history, ...recent]);
    const models = await loadPortalModels(env.store, PORTAL);
    const [slow, fresh] = (await readContacts(env.store, PORTAL, ['slow', 'fresh'])).map((i) => scoreOne(i, undefined, models, NOW));
    const slowPace = slow?.loyalty.reasons.find((r) => r.text.includes('pace'));
    expect(slowPace?.impact).toBeLessThan(0);
    expect(slowPace?.text).toMatch(/below this account's usual pace$/);
    expect(fresh?.loyalty.reasons.map((r) => r.text)).toContain('bought today: still buying');
    for (const s of [slow, fresh]) for (const k of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const) {
      for (const r of s?.[k].reasons ?? []) expect(r.text).not.toMatch(/\b0 days ago|\.ts\b|_/);
    }
  });
});
