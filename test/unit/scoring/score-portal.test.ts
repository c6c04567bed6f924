import { afterEach, describe, expect, it } from 'vitest';
import { SCORE_FIELDS } from '../../../src/scores.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import type { Store } from '../../../src/store/index.ts';
import { contact, DAY, load, NOW, openStore, PORTAL, purchase, survey, ticket } from './fixtures.ts';

let env: { store: Store; cleanup: () => void } | undefined;
afterEach(() => env?.cleanup());

const NEUTRAL_KEYS = [...SCORE_FIELDS].sort();

/** Pretends the write-back sent everything pending. */
async function drainOutbox(store: Store) {
  for (const item of await store.outbox.due(PORTAL, 1000)) await store.outbox.settle(PORTAL, { written: [item], failed: [] }, { maxAttempts: 5 });
}

describe('scoreContacts', () => {
  it('scores all contacts, keeps history, clears dirty marks and enqueues the neutral-key properties', async () => {
    let clock = NOW;
    env = openStore(() => clock);
    const { store } = env;
    await load(store, [contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10), contact('b'), ticket('b', 3)]);
    expect(await store.dirty.count(PORTAL)).toBe(2);
    clock += 1000;
    const res = await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    expect(res).toEqual({ scored: 2, enqueued: 2 });
    expect(await store.dirty.count(PORTAL)).toBe(0);
    expect(await store.scores.count(PORTAL)).toBe(2);
    const a = await store.scores.get(PORTAL, 'a');
    expect(a?.modelVersion).toBe('prior-1');
    expect(a?.satisfaction.reasons.length).toBeGreaterThan(0);
    expect(await store.scores.history(PORTAL, 'a', 0)).toHaveLength(1);
    const due = await store.outbox.due(PORTAL, 10);
    expect(due.map((d) => d.contactId).sort()).toEqual(['a', 'b']);
    for (const d of due) expect(Object.keys(d.properties).sort()).toEqual(NEUTRAL_KEYS);
    const pa = due.find((d) => d.contactId === 'a')?.properties;
    expect(pa?.['scoredAt']).toBe(new Date(NOW).toISOString());
    expect(pa?.['satisfaction']).toMatch(/^\d{1,3}$/);
    expect(pa?.['reasons']).toMatch(/Churn risk \d+: /);
  });

  it('enqueues nothing when only scored_at would change, and only the changed values otherwise', async () => {
    let clock = NOW;
    env = openStore(() => clock);
    const { store } = env;
    await load(store, [contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10)]);
    await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
    await drainOutbox(store);
    expect((await store.outbox.stats(PORTAL)).pending).toBe(0);

    // same data, scored again a minute later: nothing to send, no new history row
    clock += 60_000;
    const again = await scoreContacts(store, PORTAL, { contactIds: ['a'], now: NOW + 60_000 });
    expect(again).toEqual({ scored: 1, enqueued: 0 });
    expect((await store.outbox.stats(PORTAL)).pending).toBe(0);
    expect(await store.scores.history(PORTAL, 'a', 0)).toHaveLength(1);
    expect((await store.scores.get(PORTAL, 'a'))?.scoredAt).toBe(NOW + 60_000);

    // a detractor answer arrives: satisfaction (and what depends on it) is enqueued with scored_at
    clock += 60_000;
    await load(store, [survey('a', 'NPS', 0, 0, 'terrible, broken, refund')]);
    expect(await store.dirty.count(PORTAL)).toBe(1);
    const changed = await scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW + 120_000 });
    expect(changed).toEqual({ scored: 1, enqueued: 1 });
    expect(await store.dirty.count(PORTAL)).toBe(0);
    const [item] = await store.outbox.due(PORTAL, 10);
    expect(item?.properties['satisfaction']).toBeDefined();
    expect(item?.properties['scoredAt']).toBe(new Date(NOW + 120_000).toISOString());
    expect(item?.properties['modelVersion']).toBeUndefined(); // unchanged values are not re-sent
    expect(item?.properties['loyalty']).toBeUndefined();
    expect(await store.scores.history(PORTAL, 'a', 0)).toHaveLength(2);
  });

  it('a dirty mark set after the read survives; unknown and deleted contacts are cleared, not looped on', async () => {
    env = openStore();
    const { store } = env;
    await load(store, [contact('a')]);
    await store.dirty.mark(PORTAL, 'ghost', NOW);
    await store.dirty.mark(PORTAL, 'a', NOW + DAY); // marked "after" the store clock's now
    const res = await scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW });
    expect(res.scored).toBe(1);
    expect(await store.dirty.peek(PORTAL, 10)).toEqual(['a']);
    expect(await scoreContacts(store, PORTAL, { contactIds: [], now: NOW })).toEqual({ scored: 0, enqueued: 0 });
  });

  it('a portal installed anew has no dirty marks from its backfill: its first pass over changed contacts scores them all, then only changes', async () => {
    let clock = NOW;
    env = openStore(() => clock);
    const { store } = env;
    await store.portals.upsert({ portal: PORTAL, crm: 'hubspot', externalId: PORTAL.split(':')[1]!, baseUrl: 'http://x', scopes: [] });
    await load(store, [contact('a'), purchase('a', 20), contact('b'), ticket('b', 3), contact('c')]);
    expect(await store.dirty.peek(PORTAL, 10)).toEqual([]);
    expect(await store.dirty.count(PORTAL)).toBe(3);
    clock += 1000;
    expect(await scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW })).toEqual({ scored: 3, enqueued: 3 });
    expect(await store.dirty.count(PORTAL)).toBe(0);
    clock += 1000;
    await load(store, [survey('b', 'NPS', 0, 0, 'terrible')]);
    expect(await store.dirty.peek(PORTAL, 10)).toEqual(['b']);
    expect((await scoreContacts(store, PORTAL, { contactIds: 'dirty', now: NOW })).scored).toBe(1);
  });
});
