import { afterEach, describe, expect, it } from 'vitest';
import { readContacts } from '../../../src/scoring/features.ts';
import { loadPortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreOne } from '../../../src/scoring/score-portal.ts';
import type { Store } from '../../../src/store/index.ts';
import type { ContactScores } from '../../../src/store/scores.ts';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { contact, daysAgo, engagement, load, NOW, openStore, PORTAL, purchase, survey, ticket } from './fixtures.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

/** Scores each hand-made contact with the cold-start models. */
function scoreAll(records: CrmRecord[]): Map<string, ContactScores> {
  env = openStore();
  load(env.store, records);
  const ids = records.filter((r) => r.type === 'contacts').map((r) => r.id);
  const models = loadPortalModels(env.store, PORTAL);
  return new Map(readContacts(env.store, PORTAL, ids).map((c) => [c.id, scoreOne(c, undefined, models, NOW)]));
}

const texts = (s: { reasons: { text: string }[] }) => s.reasons.map((r) => r.text);
const get = (m: Map<string, ContactScores>, id: string) => {
  const s = m.get(id);
  if (s === undefined) throw new Error(`not scored: ${id}`);
  return s;
};

describe('satisfaction', () => {
  it('happy answers and quick tickets score high, a detractor with reopened tickets low, with reasons', () => {
    const m = scoreAll([
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

  it('one answer moves the score only part of the way (shrinkage)', () => {
    const m = scoreAll([contact('one'), survey('one', 'NPS', 0, 10), contact('many')]);
    const extra = [];
    for (let i = 0; i < 8; i++) extra.push(survey('many', 'NPS', 0, 10 + i));
    env?.cleanup();
    const m2 = scoreAll([contact('many'), ...extra]);
    expect(get(m, 'one').satisfaction.value).toBeGreaterThan(get(m2, 'many').satisfaction.value);
    expect(get(m, 'one').satisfaction.value).toBeGreaterThan(30);
    expect(get(m2, 'many').satisfaction.value).toBeLessThan(20);
  });
});

describe('loyalty', () => {
  it('a frequent recent buyer beats a lapsed one; non-buyers score 0 with a reason', () => {
    const recs: CrmRecord[] = [contact('loyal'), contact('lapsed'), contact('prospect')];
    for (let i = 0; i < 8; i++) recs.push(purchase('loyal', 10 + i * 40, 1500));
    recs.push(purchase('lapsed', 300, 800), purchase('lapsed', 280, 800), purchase('lapsed', 140, 800));
    const m = scoreAll(recs);
    const loyal = get(m, 'loyal');
    const lapsed = get(m, 'lapsed');
    expect(loyal.loyalty.value).toBeGreaterThan(lapsed.loyalty.value + 20);
    expect(loyal.loyalty.band).toBe('green');
    expect(texts(lapsed.loyalty)).toContain('no purchase in 140 days');
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
  it('a silent lapsed customer is riskier than an active one, in plain words', () => {
    const recs: CrmRecord[] = [contact('active'), contact('quiet')];
    for (let i = 0; i < 6; i++) recs.push(purchase('active', 5 + i * 30), engagement('emails', 'active', 3 + i * 20, 'inbound', 'thanks'));
    recs.push(purchase('quiet', 400), purchase('quiet', 250), engagement('calls', 'quiet', 240, 'inbound'));
    const m = scoreAll(recs);
    const active = get(m, 'active').churnRisk;
    const quiet = get(m, 'quiet').churnRisk;
    expect(quiet.value).toBeGreaterThan(active.value + 20);
    expect(quiet.band).toBe('red');
    expect(active.band).toBe('green');
    expect(texts(quiet)).toContain('no activity in 240 days');
    expect(quiet.reasons.find((r) => r.text === 'no activity in 240 days')?.impact).toBeGreaterThan(0);
    expect(texts(quiet)).toContain('not enough history to train on: using the default model');
    expect(get(m, 'quiet').health).toBe('red');
  });

  it('recent and open tickets raise service need; the likely channel follows the contact’s habits', () => {
    const recs: CrmRecord[] = [contact('needy'), contact('calm')];
    recs.push(ticket('needy', 3, { isClosed: false, closedAt: null }), ticket('needy', 12), ticket('needy', 25));
    for (let i = 0; i < 5; i++) recs.push(engagement('calls', 'calm', 100 + i * 10, 'inbound'));
    const m = scoreAll(recs);
    expect(get(m, 'needy').serviceNeed.value).toBeGreaterThan(get(m, 'calm').serviceNeed.value + 20);
    expect(get(m, 'needy').extra['likelyChannel']).toBe('tickets');
    expect(get(m, 'calm').extra['likelyChannel']).toBe('calls');
    // 5 calls + 2 pseudo-contacts spread by the portal mix: (5 + 2·0.25) / 7 = 79 %
    expect(texts(get(m, 'calm').serviceNeed)).toContain('most likely to reach out by phone (79 %)');
  });
});

describe('bad data', () => {
  it('lowers every confidence and is named in the reasons', () => {
    const clean = [contact('clean'), purchase('clean', 30, 900), survey('clean', 'CSAT', 4, 20)];
    const dirty = [
      { ...contact('dirty'), issues: ['possible duplicate of contact 9'] },
      purchase('dirty', 30, null, 'N/A'),
      survey('dirty', 'CSAT', 4, 20),
      survey('dirty', 'NPS', 11, 15),
    ];
    const m = scoreAll([...clean, ...dirty]);
    const c = get(m, 'clean');
    const d = get(m, 'dirty');
    for (const k of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const) {
      expect(d[k].confidence).toBeLessThan(c[k].confidence);
      const dq = d[k].reasons.find((r) => r.text.startsWith('data problems lower confidence'));
      expect(dq?.text).toContain('non-numeric deal amount');
    }
    expect(d.confidence).toBeLessThan(c.confidence);
    expect(d.extra['dataIssues']).toEqual(['NPS answer outside 0–10', 'non-numeric deal amount', 'possible duplicate of contact 9']);
    for (const s of [c, d]) for (const k of ['satisfaction', 'loyalty', 'churnRisk', 'serviceNeed'] as const) {
      expect(Number.isFinite(s[k].value)).toBe(true);
      expect(s[k].value).toBeGreaterThanOrEqual(0);
      expect(s[k].value).toBeLessThanOrEqual(100);
    }
  });
});
