/**
 * The churn definition (issue 17): purchase-based by default, explicit signals when an admin maps
 * them, per portal from configuration; inbound messages, tickets and survey answers never decide
 * the label. Hand-built histories with known answers.
 */
import { describe, expect, it } from 'vitest';
import type { CrmRecord } from '../../../src/connectors/types.ts';
import { DEFAULT_CHURN_DEFINITION, type ChurnDefinition } from '../../../src/scoring/churn.ts';
import { churnDefinitionFor, parseChurnSettings } from '../../../src/scoring/churn-definition.ts';
import { churnEvidence, churnLabel } from '../../../src/scoring/churn-label.ts';
import { contact, DAY, engagement, inputOf as fixtureInput, NOW, purchase, survey, ticket } from './fixtures.ts';

const BG = { r: 0.35, alpha: 6, a: 0.8, b: 2.5 };
/** the cut-off: 400 days ago; with H = 90 and Q = 270 the window ends 40 days ago */
const CUT = NOW - 400 * DAY;

// labels are pure over a contact's records: assembled in memory, no store
const inputOf = (records: CrmRecord[], id = 'c1') => fixtureInput(records, id);

const lostDeal = (contactId: string, closedDaysAgo: number, stage: string): CrmRecord => {
  const r = purchase(contactId, closedDaysAgo);
  return { ...r, data: { ...(r.data as object), stage, isClosedWon: false } as CrmRecord['data'] };
};

describe('churn definition', () => {
  const def = DEFAULT_CHURN_DEFINITION;
  // a buyer: purchases 700, 600, 500 and 420 days ago, then nothing
  const buyer = () => [contact('c1', { createdAt: NOW - 720 * DAY }), purchase('c1', 700), purchase('c1', 600), purchase('c1', 500), purchase('c1', 420)];

  it('default: a past buyer with no purchase in the confirmation window is quiet; a purchase in it is staying', () => {
    const gone = churnEvidence(inputOf(buyer()), CUT, def, undefined, NOW);
    expect(gone).toMatchObject({ quiet: true, explicit: false });
    expect(churnLabel(gone, BG, def.confirmDays / 7)).toBeGreaterThan(0.5);
    const stayed = churnEvidence(inputOf([...buyer(), purchase('c1', 200)]), CUT, def, undefined, NOW);
    expect(stayed.quiet).toBe(false);
    expect(churnLabel(stayed, BG, def.confirmDays / 7)).toBe(0);
  });

  it('inbound messages, tickets and survey answers never count as staying (the old label did)', () => {
    const busy = [
      ...buyer(),
      engagement('emails', 'c1', 250, 'inbound', 'thanks, great service'),
      ticket('c1', 200),
      survey('c1', 'NPS', 10, 150),
      engagement('calls', 'c1', 100, 'inbound'),
    ];
    const e = churnEvidence(inputOf(busy), CUT, def, undefined, NOW);
    expect(e.quiet).toBe(true);
    // the same label as without any of that activity
    const bare = churnEvidence(inputOf(buyer()), CUT, def, undefined, NOW);
    expect(churnLabel(e, BG, 270 / 7)).toBeCloseTo(churnLabel(bare, BG, 270 / 7), 12);
  });

  it('a plain window (confirmDays 0) looks only at (cut, cut + H]', () => {
    const plain: ChurnDefinition = { ...def, confirmDays: 0 };
    expect(churnEvidence(inputOf([...buyer(), purchase('c1', 350)]), CUT, plain, undefined, NOW).quiet).toBe(false);
    // a purchase after the horizon does not rescue a plain window
    expect(churnEvidence(inputOf([...buyer(), purchase('c1', 200)]), CUT, plain, undefined, NOW)).toEqual({ quiet: true, explicit: false, atHorizon: null });
  });

  it('a lost renewal in a mapped stage is an explicit loss (label 1) unless they buy again after it', () => {
    const signals: ChurnDefinition = { ...def, signals: { lostDealStages: ['renewal_lost'], lostLifecycleStages: [] } };
    // the customer kept buying until 330 days ago, then the renewal was lost 320 days ago
    const history = [...buyer(), purchase('c1', 330), lostDeal('c1', 320, 'renewal_lost')];
    const e = churnEvidence(inputOf(history), CUT, signals, undefined, NOW);
    expect(e).toEqual({ quiet: true, explicit: true, atHorizon: null });
    expect(churnLabel(e, BG, 270 / 7)).toBe(1);
    // without the mapping the same history is judged on purchases only (the purchase at 330 d is
    // in the horizon, none in the confirmation window): quiet, soft label < 1
    const unmapped = churnEvidence(inputOf(history), CUT, def, undefined, NOW);
    expect(unmapped.explicit).toBe(false);
    // a closed-lost deal in another stage (an upsell) is not a loss
    const upsell = churnEvidence(inputOf([...buyer(), purchase('c1', 200), lostDeal('c1', 320, 'closedlost')]), CUT, signals, undefined, NOW);
    expect(upsell.explicit).toBe(false);
    // bought again after the lost renewal: not churned
    const back = churnEvidence(inputOf([...history, purchase('c1', 150)]), CUT, signals, undefined, NOW);
    expect(back).toMatchObject({ quiet: false, explicit: false });
  });

  it('a lifecycle stage meaning "former customer" marks a past buyer as lost; a lead is not a loss', () => {
    const signals: ChurnDefinition = { ...def, signals: { lostDealStages: [], lostLifecycleStages: ['other'] } };
    const history = [contact('c1', { createdAt: NOW - 720 * DAY, lifecycleStage: 'other' }), purchase('c1', 700), purchase('c1', 420)];
    expect(churnEvidence(inputOf(history), CUT, signals, undefined, NOW).explicit).toBe(true);
    const neverBought = [contact('c1', { createdAt: NOW - 720 * DAY, lifecycleStage: 'other' })];
    expect(churnEvidence(inputOf(neverBought), CUT, signals, undefined, NOW).explicit).toBe(false);
  });

  it('a churn date an admin maps marks the customer as left at that date, unless they buy again after it; unmapped it is ignored', () => {
    const mapped: ChurnDefinition = { ...def, signals: { lostDealStages: [], lostLifecycleStages: [], churnDateProperty: 'churn_date' } };
    // kept buying through the horizon (a purchase 330 days ago, in (cut, cut + H]) and left 315 days ago
    const left = [contact('c1', { createdAt: NOW - 720 * DAY, churnedAt: NOW - 315 * DAY }), purchase('c1', 700), purchase('c1', 500), purchase('c1', 330)];
    const e = churnEvidence(inputOf(left), CUT, mapped, undefined, NOW);
    expect(e).toEqual({ quiet: true, explicit: true, atHorizon: null });
    expect(churnLabel(e, BG, 270 / 7)).toBe(1);
    // the same data without the mapping (a stale value in the cache): purchases only, a soft label
    const unmapped = churnEvidence(inputOf(left), CUT, def, undefined, NOW);
    expect(unmapped.explicit).toBe(false);
    expect(churnLabel(unmapped, BG, 270 / 7)).toBeLessThan(1);
    // bought again after the churn date: back, not churned
    expect(churnEvidence(inputOf([...left, purchase('c1', 100)]), CUT, mapped, undefined, NOW)).toMatchObject({ quiet: false, explicit: false });
    // a churn date after the horizon (they left later, 30 days ago) is not a loss by cut + H
    const later = [contact('c1', { createdAt: NOW - 720 * DAY, churnedAt: NOW - 30 * DAY }), purchase('c1', 700), purchase('c1', 330), purchase('c1', 200)];
    expect(churnEvidence(inputOf(later), CUT, mapped, undefined, NOW).explicit).toBe(false);
    // an empty or unreadable date (null) is no signal
    const none = [contact('c1', { createdAt: NOW - 720 * DAY, churnedAt: null }), purchase('c1', 700), purchase('c1', 330), purchase('c1', 200)];
    expect(churnEvidence(inputOf(none), CUT, mapped, undefined, NOW)).toMatchObject({ quiet: false, explicit: false });
  });

  it('a churn-date property must be a property name: it goes into the CRM query', () => {
    const ok = parseChurnSettings({ signals: { churnDateProperty: 'Churn_Date__c' }, portals: { 'hubspot:2': { signals: { churnDateProperty: 'churn_date' } } } });
    if (!ok.ok) throw new Error(ok.errors.join('; '));
    expect(churnDefinitionFor(ok.value, 'salesforce:00D1').signals.churnDateProperty).toBe('Churn_Date__c');
    expect(churnDefinitionFor(ok.value, 'hubspot:2').signals.churnDateProperty).toBe('churn_date');
    expect(churnDefinitionFor(undefined, 'hubspot:2').signals.churnDateProperty).toBeUndefined();
    for (const bad of ['Churn_Date__c, (SELECT Id FROM Users)', 'churn date', '1st_date', '']) {
      const r = parseChurnSettings({ signals: { churnDateProperty: bad } });
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.errors.join('\n')).toMatch(/RAPPORT_CHURN\.signals\.churnDateProperty/);
    }
  });

  it('configuration: defaults, top-level settings, per-portal overrides; bad settings are named errors', () => {
    expect(churnDefinitionFor(undefined, 'hubspot:1')).toEqual(DEFAULT_CHURN_DEFINITION);
    const parsed = parseChurnSettings(
      JSON.stringify({ confirmDays: 180, signals: { lostLifecycleStages: ['other'] }, portals: { 'hubspot:2': { horizonDays: 60, signals: { lostDealStages: ['7'] } } } }),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(churnDefinitionFor(parsed.value, 'hubspot:1')).toEqual({ horizonDays: 90, confirmDays: 180, signals: { lostDealStages: [], lostLifecycleStages: ['other'] } });
    expect(churnDefinitionFor(parsed.value, 'hubspot:2')).toEqual({ horizonDays: 60, confirmDays: 180, signals: { lostDealStages: ['7'], lostLifecycleStages: ['other'] } });

    const bad = parseChurnSettings({ horizonDays: -1, activity: 'purchase_or_inbound' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors.join('\n')).toMatch(/RAPPORT_CHURN\.horizonDays/);
    expect(bad.errors.join('\n')).toMatch(/activity/);
    expect(parseChurnSettings('{not json')).toEqual({ ok: false, errors: ['RAPPORT_CHURN is not valid JSON'] });
  });
});
