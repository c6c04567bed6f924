import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.ts';
import { buildReport } from '../../../src/report/index.ts';
import { DEFAULT_CHURN_DEFINITION } from '../../../src/scoring/churn.ts';
import { createPortalScoring, OFF_THREAD_FROM, RETRAIN_AFTER_MS } from '../../../src/scoring/portal-scoring.ts';
import { fitPortal } from '../../../src/scoring/train.ts';
import type { Store } from '../../../src/store/index.ts';
import { runJob } from '../../../src/work/jobs.ts';
import { GEN_NOW, generatedStore } from '../report/generated-store.ts';

const PORTAL = 'hubspot:77';

/** The longest time the event loop went without a turn while `work` ran (ms). */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
  }, 2);
  try {
    await work();
    longest = Math.max(longest, performance.now() - last);
  } finally {
    clearInterval(tick);
  }
  return longest;
}

describe('heavy work off the serving thread', () => {
  let g: Awaited<ReturnType<typeof generatedStore>>;
  let store: Store;
  beforeAll(async () => {
    g = await generatedStore(PORTAL, OFF_THREAD_FROM + 500, 5);
    store = g.store;
  }, 120_000);
  afterAll(async () => g.cleanup());

  it('a training in a worker fits exactly what a training on this thread fits', async () => {
    const options = { now: GEN_NOW, churnDefinition: DEFAULT_CHURN_DEFINITION };
    const there = await runJob(store.location, { kind: 'train', portal: PORTAL, options });
    const here = await fitPortal(store, PORTAL, options);
    expect(there).toEqual(here);
    expect(there.models.map((m) => m.kind).sort()).toEqual(['churn', 'loyalty', 'satisfaction', 'service_need']);
    expect(there.metrics['contacts']).toBe(OFF_THREAD_FROM + 500);
  }, 120_000);

  it('a job whose store cannot be opened rejects with the reason', async () => {
    await expect(runJob({ kind: 'sqlite', path: `${g.path}.missing` }, { kind: 'train', portal: PORTAL, options: { now: GEN_NOW } })).rejects.toThrow(/unable to open|no such file|SQLITE_CANTOPEN|does not exist/i);
  }, 60_000);

  it('the daemon step trains off-thread and rescores every contact in workers, retrains only when the models are a week old, and keeps the event loop turning', async () => {
    let clock = GEN_NOW;
    const score = createPortalScoring({ store, logger: silentLogger, now: () => clock, churnDefinition: () => DEFAULT_CHURN_DEFINITION });
    let first: Awaited<ReturnType<typeof score>> | undefined;
    const stallOff = await longestStall(async () => (first = await score(PORTAL)));
    expect(first).toMatchObject({ trained: true, offThread: true, scored: OFF_THREAD_FROM + 500 });
    expect(await store.dirty.count(PORTAL)).toBe(0);
    const model = await store.models.latest(PORTAL, 'churn');
    expect(model?.trainedAt).toBe(GEN_NOW);

    clock += 3_600_000;
    expect(await score(PORTAL)).toEqual({ scored: 0, enqueued: 0, trained: false, offThread: false });

    // the same step with everything on this thread holds the loop for the whole fit
    clock += RETRAIN_AFTER_MS + 1;
    const inThread = createPortalScoring({ store, logger: silentLogger, now: () => clock, churnDefinition: () => DEFAULT_CHURN_DEFINITION, offThread: false });
    let second: Awaited<ReturnType<typeof score>> | undefined;
    const stallIn = await longestStall(async () => (second = await inThread(PORTAL)));
    expect(second).toMatchObject({ trained: true, offThread: false, scored: OFF_THREAD_FROM + 500 });
    expect((await store.models.latest(PORTAL, 'churn'))?.trainedAt).toBe(clock);
    // measured here: 29 ms off-thread, 1,294 ms on it
    expect(stallOff, `longest event-loop stall: ${stallOff.toFixed(0)} ms off-thread, ${stallIn.toFixed(0)} ms on it`).toBeLessThan(stallIn / 3);
  }, 180_000);

  it('a report built in a worker is the page built here; a portal with no contacts is an error value, not a crash', async () => {
    const options = { generatedAt: GEN_NOW }; // the footer's time, else the two builds differ by when they ran
    const there = await runJob(store.location, { kind: 'report', portal: PORTAL, options });
    const here = await buildReport(store, PORTAL, options);
    if ('error' in there || 'error' in here) throw new Error('the portal was scored above: expected a report');
    expect(there.contacts).toBe(OFF_THREAD_FROM + 500);
    expect(there.html).toBe(here.html);
    const none = await runJob(store.location, { kind: 'report', portal: 'hubspot:404', options: {} });
    expect(none).toMatchObject({ error: expect.stringMatching(/^(no_contacts|not_scored)$/) });
  }, 60_000);
});
