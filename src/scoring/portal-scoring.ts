/**
 * The daemon's scoring step for one portal, after each sync pass: retrain when the models are
 * missing or a week old, then score. Heavy work runs off the serving thread (issue 12,
 * docs/ARCHITECTURE.md "Threads"): the training fits in a worker thread (src/work/jobs.ts) and
 * a full pass (after a training, or a large backlog of dirty contacts) scores in worker threads
 * (parallel.ts). This thread only saves what they post back: it stays the only writer.
 */
import { availableParallelism } from 'node:os';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { runJob, shareable } from '../work/jobs.ts';
import type { ChurnDefinition } from './churn.ts';
import { rescoreAllInParallel } from './parallel.ts';
import { scoreContacts } from './score-portal.ts';
import { saveFitted, trainPortal } from './train.ts';

/** Models are retrained weekly: churn drifts slowly, and training reads the whole history. */
export const RETRAIN_AFTER_MS = 7 * 24 * 3600_000;
/**
 * From this many contacts a full pass scores in worker threads; below it one pass on this thread
 * takes well under 100 ms and a worker would cost more to start (~0.3 s) than it saves.
 */
export const OFF_THREAD_FROM = 2000;
/**
 * Scores saved per transaction on this thread, one transaction per turn of the event loop. Small,
 * so that a webhook arriving mid-pass waits for one short transaction (a few ms), not for 2,000
 * rows (bench:webhooks "rapport, training" on a 2-core machine: ack p99 943 ms with the work on
 * this thread, 51 ms off-thread with 250-row saves, 32–37 ms with 50).
 */
export const SERVING_CHUNK = 50;
/** Worker threads of a full pass: every core but one, which stays with the serving thread. */
const SCORING_WORKERS = Math.max(1, availableParallelism() - 1);

export type PortalScoringDeps = {
  store: Pick<Store, 'location' | 'now' | 'models' | 'records' | 'contacts' | 'dirty' | 'saveScores'>;
  logger: Logger;
  now(): number;
  churnDefinition(portal: string): ChurnDefinition;
  /** seconds one scoring step took (metrics) */
  observe?(seconds: number): void;
  /** false: everything on this thread (default: off-thread when the store can be opened by a worker) */
  offThread?: boolean;
};

export type PortalScoringResult = { scored: number; enqueued: number; trained: boolean; offThread: boolean };

export function createPortalScoring(deps: PortalScoringDeps): (portal: string) => Promise<PortalScoringResult> {
  const { store, logger, now } = deps;
  const offThread = deps.offThread ?? shareable(store.location);

  async function train(portal: string): Promise<boolean> {
    const options = { now: now(), churnDefinition: deps.churnDefinition(portal) };
    try {
      if (offThread) await saveFitted(store, portal, await runJob(store.location, { kind: 'train', portal, options }), logger);
      else await trainPortal(store, portal, { ...options, logger });
      return true;
    } catch (e) {
      logger.warn({ portal, err: (e as Error).message }, 'training failed; scoring with the models it had (cold-start priors at first)');
      return false;
    }
  }

  return async function score(portal) {
    const t0 = performance.now();
    // First pass over a portal (or a stale model): train on its own history before scoring,
    // so the first scores written back already come from the portal's calibrated models.
    const model = await store.models.latest(portal, 'churn');
    const trained = (model === undefined || now() - model.trainedAt > RETRAIN_AFTER_MS) && (await train(portal));
    let scored = 0;
    let enqueued = 0;
    let parallel = false;
    // New models change every score: a full pass. So does a backlog as large as a portal, and a
    // portal installed anew, whose pages wrote no dirty marks until this pass starts.
    const dirty = await store.dirty.count(portal);
    const first = await store.dirty.startFirstPass(portal);
    if (trained || first !== undefined || dirty >= OFF_THREAD_FROM) {
      // (with deleted ones: the index answers it at once, and the size is all this decides)
      const contacts = await store.contacts.count(portal, { includeDeleted: true });
      parallel = offThread && contacts >= OFF_THREAD_FROM;
      // one worker per 20,000 contacts (a worker costs ~0.3 s to start), never every core
      const workers = Math.min(SCORING_WORKERS, Math.ceil(contacts / 20_000));
      const r = parallel
        ? await rescoreAllInParallel(store, portal, { now: now(), chunkSize: SERVING_CHUNK, workers })
        : await scoreContacts(store, portal, { contactIds: 'all', now: now(), logger, chunkSize: SERVING_CHUNK });
      scored += r.scored;
      enqueued += r.enqueued;
      if (first !== undefined) await store.dirty.endFirstPass(portal, first);
    }
    // what the full pass did not clear: contacts marked during it, deleted ones (nothing to score)
    const r = await scoreContacts(store, portal, { contactIds: 'dirty', now: now(), logger, chunkSize: SERVING_CHUNK });
    scored += r.scored;
    enqueued += r.enqueued;
    deps.observe?.((performance.now() - t0) / 1000);
    return { scored, enqueued, trained, offThread: parallel };
  };
}
