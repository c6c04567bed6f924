import { afterEach, describe, expect, it } from 'vitest';
import { SCORE_FIELDS } from '../../../src/scores.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import type { Store } from '../../../src/store/index.ts';
import { contact, DAY, load, NOW, openStore, PORTAL, purchase, survey, ticket } from './fixtures.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

const NEUTRAL_KEYS = [...SCORE_FIELDS].sort();

/** Pretends the write-back sent everything pending. */
function drainOutbox(store: Store) {
  for (const item of store.outbox.due(PORTAL, 1000)) store.outbox.markWritten(PORTAL, item);
}

describe('scoreContacts', () => {
  it('scores all contacts, keeps history, clears dirty marks and enqueues the neutral-key properties', () => {
    let clock = NOW;
    env = openStore(() => clock);
    const { store } = env;
    load(store, [contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10), contact('b'), ticket('b', 3)]);
    expect(store.dirty.count(PORTAL)).toBe(2);
    clock += 1000;
    const res = scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    expect(res).toEqual({ scored: 2, enqueued: 2 });
    expect(store.dirty.count(PORTAL)).toBe(0);
    expect(store.scores.count(PORTAL)).toBe(2);
    const a = store.scores.get(PORTAL, 'a');
    expect(a?.modelVersion).toBe('prior-1');
    expect(a?.satisfaction.reasons.length).toBeGreaterThan(0);
    expect(store.scores.history(PORTAL, 'a', 0)).toHaveLength(1);
    const due = store.outbox.due(PORTAL, 10);
    expect(due.map((d) => d.contactId).sort()).toEqual(['a', 'b']);
    for (const d of due) expect(Object.keys(d.properties).sort()).toEqual(NEUTRAL_KEYS);
    const pa = due.find((d) => d.contactId === 'a')?.properties;
    expect(pa?.['scoredAt']).toBe(new Date(NOW).toISOString());
    expect(pa?.['satisfaction']).toMatch(/^\d{1,3}$/);
    expect(pa?.['reasons']).toMatch(/Churn risk \d+: /);
  });

  it('enqueues nothing when only scored_at would change, and only the changed values otherwise', () => {
    let clock = NOW;
    env = openStore(() => clock);
    const { store } = env;
    load(store, [contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10)]);
    scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    drainOutbox(store);
    expect(store.outbox.stats(PORTAL).pending).toBe(0);

    // same data, scored again a minute later: nothing to send, no new history row
    clock += 60_000;
    const again = scoreContacts(store, PORTAL, { contactIds: ['a'], now: NOW + 60_000 });
    expect(again).toEqual({ scored: 1, enqueued: 0 });
    expect(store.outbox.stats(PORTAL).pending).toBe(0);
    expect(store.scores.history(PORTAL, 'a', 0)).toHaveLength(1);
    expect(store.scores.get(PORTAL, 'a')?.scoredAt).toBe(NOW + 60_000);

    // a detractor answer arrives: satisfaction (and what depends on it) is enqueued with scored_at
    clock += 60_000;
    load(store, [survey('a', 'NPS', 0, 0, 'terrible, broken, refund')]);
    expect(store.dirty.count(PORTAL)).toBe(1);
    const changed = scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW + 120_000 });
    expect(changed).toEqual({ scored: 1, enqueued: 1 });
    expect(store.dirty.count(PORTAL)).toBe(0);
    const [item] = store.outbox.due(PORTAL, 10);
    expect(item?.properties['satisfaction']).toBeDefined();
    expect(item?.properties['scoredAt']).toBe(new Date(NOW + 120_000).toISOString());
    expect(item?.properties['modelVersion']).toBeUndefined(); // unchanged values are not re-sent
    expect(item?.properties['loyalty']).toBeUndefined();
    expect(store.scores.history(PORTAL, 'a', 0)).toHaveLength(2);
  });

  it('a dirty mark set after the read survives; unknown and deleted contacts are cleared, not looped on', () => {
    env = openStore();
    const { store } = env;
    load(store, [contact('a')]);
    store.dirty.mark(PORTAL, 'ghost', NOW);
    store.dirty.mark(PORTAL, 'a', NOW + DAY); // marked "after" the store clock's now
    const res = scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW });
    expect(res.scored).toBe(1);
    expect(store.dirty.peek(PORTAL, 10)).toEqual(['a']);
    expect(scoreContacts(store, PORTAL, { contactIds: [], now: NOW })).toEqual({ scored: 0, enqueued: 0 });
  });
});
