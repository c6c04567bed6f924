import { afterEach, describe, expect, it } from 'vitest';
import { loadCompanies, readContactChunks } from '../../../src/scoring/features.ts';
import { rescoreAllInParallel, scoreAllInParallel } from '../../../src/scoring/parallel.ts';
import { loadPortalModels } from '../../../src/scoring/portal-models.ts';
import { scoreOne, writeBackProperties } from '../../../src/scoring/score-portal.ts';
import type { ScoredRow } from '../../../src/scoring/score-worker.ts';
import { scoreRow, type ContactScores } from '../../../src/store/scores.ts';
import { GEN_NOW, generatedStore } from '../report/generated-store.ts';

const PORTAL = 'hubspot:7';
let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('scoring on all cores', () => {
  it('worker threads score every contact exactly once, with the same results as one thread', async () => {
    const g = await generatedStore(PORTAL, 400, 3);
    cleanup = g.cleanup;
    const models = await loadPortalModels(g.store, PORTAL);
    const companies = await loadCompanies(g.store, PORTAL);
    const serial = new Map<string, ContactScores>();
    for await (const chunk of readContactChunks(g.store, PORTAL)) {
      for (const c of chunk) serial.set(c.id, scoreOne(c, c.companyId === null ? undefined : companies.get(c.companyId), models, GEN_NOW));
    }
    const parallel: ScoredRow[] = [];
    const r = await scoreAllInParallel(g.store, PORTAL, { now: GEN_NOW, workers: 3, chunkSize: 50, onBatch: (b) => void parallel.push(...b) });
    expect(r.workers).toBeGreaterThan(1);
    expect(r.scored).toBe(serial.size);
    expect(new Set(parallel.map((s) => s.row.contactId)).size).toBe(parallel.length);
    expect(parallel.length).toBe(serial.size);
    // the workers post rows (detail already JSON) and write-back values: those of the same scores
    for (const { row, properties } of parallel) {
      const s = serial.get(row.contactId) as ContactScores;
      expect(row).toEqual(scoreRow(s));
      expect(JSON.parse(row.detail)).toEqual({ satisfaction: s.satisfaction, loyalty: s.loyalty, churnRisk: s.churnRisk, serviceNeed: s.serviceNeed, extra: s.extra });
      expect(properties).toEqual(writeBackProperties(s));
    }
  });

  it('rescoreAllInParallel saves every score and enqueues the changed values; a second run enqueues nothing', async () => {
    const g = await generatedStore(PORTAL, 200, 4);
    cleanup = g.cleanup;
    const first = await rescoreAllInParallel(g.store, PORTAL, { now: GEN_NOW, workers: 2 });
    const contacts = (await g.store.records.counts(PORTAL))['contacts']?.live ?? 0;
    expect(first.scored).toBe(contacts);
    expect(await g.store.scores.count(PORTAL)).toBe(contacts);
    expect(first.enqueued).toBe(contacts);
    for (const item of await g.store.outbox.due(PORTAL, 10_000)) await g.store.outbox.settle(PORTAL, { written: [item], failed: [] }, { maxAttempts: 5 });
    const second = await rescoreAllInParallel(g.store, PORTAL, { now: GEN_NOW, workers: 2 });
    expect(second).toEqual({ scored: contacts, enqueued: 0 });
  });
});
