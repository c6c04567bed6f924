import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Store } from '../store/index.ts';
import type { BandThresholds } from './bands.ts';
import { VOLATILE } from './score-portal.ts';
import type { ScoredRow, WorkerJob, WorkerMessage } from './score-worker.ts';
import { workerModule } from '../work/worker-module.ts';
import { yieldToEventLoop } from '../work/yield.ts';

/**
 * Features + the four scores for every live contact of a portal, computed by `workers` threads
 * over equal id ranges (each with its own read-only store, `openStore(store.location)`), so a full rescoring uses
 * every core. Results arrive through `onBatch` on the calling thread, which alone writes.
 * Without `onBatch` the workers only count (the compute alone, for benchmarks).
 */
export async function scoreAllInParallel(
  store: Pick<Store, 'location' | 'contacts'>,
  portal: string,
  opts: { now: number; workers?: number; bands?: BandThresholds; chunkSize?: number; onBatch?: (items: ScoredRow[]) => Promise<void> | void },
): Promise<{ scored: number; workers: number }> {
  const n = await store.contacts.count(portal, { includeDeleted: true });
  // By default one worker per core, but not for tiny portals (a worker costs ~0.3 s to start).
  const workers = Math.max(1, Math.min(opts.workers ?? Math.min(availableParallelism(), Math.ceil(n / 20_000)), Math.max(1, n)));
  // The last id of each share: worker i scores (ends[i-1], ends[i]].
  const ends = await store.contacts.shareEnds(portal, workers);

  const worker = workerModule(import.meta.url, 'score-worker');
  // ONE save chain for every worker: batches are saved one after the other, whichever worker sent
  // them (the calling thread is the only writer). Two chains would only queue on the portal's
  // lock in the store — on Postgres each waiting inside a transaction of its own, so under heavy
  // load a chain could wait out the lock timeout behind its sibling and fail the pass.
  let saving = Promise.resolve();
  const runs = ends.map(
    (through, i) =>
      new Promise<number>((resolve, reject) => {
        const after = i === 0 ? undefined : ends[i - 1];
        const job: WorkerJob = {
          location: store.location,
          portal,
          now: opts.now,
          ...(after === undefined ? {} : { after }),
          ...(through === undefined ? {} : { through }),
          ...(opts.bands === undefined ? {} : { bands: opts.bands }),
          chunkSize: opts.chunkSize ?? 2000,
          returnScores: opts.onBatch !== undefined,
          maxInFlight: 4,
        };
        const w = new Worker(worker.url, { workerData: job, ...worker.options });
        let scored = 0;
        // the worker waits for each 'ack' before it has more than `maxInFlight` batches out
        let failed = false;
        w.on('message', (m: WorkerMessage) => {
          if (m.kind === 'batch') {
            saving = saving.then(async () => {
              if (failed) return;
              await yieldToEventLoop(); // one batch per turn of the loop: requests get in between
              try {
                await opts.onBatch?.(m.items);
              } catch (e) {
                failed = true;
                void w.terminate();
                reject(e as Error);
                return;
              }
              w.postMessage('ack');
            });
          } else scored = m.scored;
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          // the last batches may still be saving when the worker exits
          void saving.then(() => (code === 0 ? resolve(scored) : reject(new Error(`scoring worker exited with code ${code}`))));
        });
      }),
  );
  const counts = await Promise.all(runs);
  return { scored: counts.reduce((a, b) => a + b, 0), workers };
}

/** `rapport score --all`: every contact scored on all cores, saved (and enqueued) by this thread. */
export async function rescoreAllInParallel(
  store: Pick<Store, 'location' | 'contacts' | 'now' | 'saveScores'>,
  portal: string,
  opts: { now: number; workers?: number; bands?: BandThresholds; chunkSize?: number },
): Promise<{ scored: number; enqueued: number }> {
  const readAt = store.now();
  let enqueued = 0;
  const r = await scoreAllInParallel(store, portal, {
    ...opts,
    onBatch: async (items) => {
      const n = await store.saveScores(portal, items, { clearIds: items.map((i) => i.row.contactId), readAt, volatile: VOLATILE });
      enqueued += n;
    },
  });
  return { scored: r.scored, enqueued };
}
