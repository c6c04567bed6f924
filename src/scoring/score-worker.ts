/**
 * Worker thread of `scoreAllInParallel`: scores one id range of a portal's contacts from its
 * own read-only store (`openStore(location, { readonly: true })`; SQLite's WAL lets readers run side by side) and posts the results back in
 * batches; only the main thread writes. At most `maxInFlight` batches wait unacknowledged, so a
 * slow writer bounds the memory the worker can fill.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore, type StoreLocation } from '../store/index.ts';
import { scoreRow, type ScoreRow } from '../store/scores.ts';
import type { ScoreValues } from '../scores.ts';
import type { BandThresholds } from './bands.ts';
import { loadCompanies, READ_CHUNK, readContactChunks } from './features.ts';
import { loadPortalModels } from './portal-models.ts';
import { scoreOne, writeBackProperties } from './score-portal.ts';
import { lowerThreadPriority } from '../work/yield.ts';

export type WorkerJob = {
  location: StoreLocation;
  portal: string;
  now: number;
  /** exclusive lower and inclusive upper contact id of this worker's share */
  after?: string;
  through?: string;
  bands?: BandThresholds;
  /** scores per posted batch (the main thread saves each in one transaction) */
  chunkSize: number;
  /** false: only count (benchmarks of the compute alone) */
  returnScores: boolean;
  maxInFlight: number;
};
/**
 * A scored contact as `saveScores` takes it, made here: the row with its detail already JSON text
 * and the write-back values. The main thread, the only writer, then receives a few strings per
 * contact instead of the reasons as objects (cloning those and serialising them there cost it
 * about as much as the saving itself: docs/ARCHITECTURE.md §8).
 */
export type ScoredRow = { row: ScoreRow; properties: ScoreValues };
export type WorkerMessage = { kind: 'batch'; items: ScoredRow[] } | { kind: 'done'; scored: number };

const job = workerData as WorkerJob;
const port = parentPort;
if (port === null) throw new Error('score-worker must run as a worker thread');
lowerThreadPriority();

let inFlight = 0;
let wake: (() => void) | undefined;
port.on('message', () => {
  inFlight--;
  wake?.();
});

const store = openStore(job.location, { readonly: true });
const models = await loadPortalModels(store, job.portal);
const companies = await loadCompanies(store, job.portal);
const range = { ...(job.after === undefined ? {} : { after: job.after }), ...(job.through === undefined ? {} : { through: job.through }) };
let scored = 0;
// Reads go in small chunks (READ_CHUNK: parsed records die young), results in batches of
// `chunkSize` (one write transaction each on the main thread).
let out: ScoredRow[] = [];
const post = async () => {
  port.postMessage({ kind: 'batch', items: out } satisfies WorkerMessage);
  out = [];
  inFlight++;
  while (inFlight >= job.maxInFlight) await new Promise<void>((r) => (wake = r));
};
// readContactChunks pages by keyset: no statement stays open across the awaits below.
for await (const chunk of readContactChunks(store, job.portal, Math.min(READ_CHUNK, job.chunkSize), range)) {
  for (const c of chunk) {
    const s = scoreOne(c, c.companyId === null ? undefined : companies.get(c.companyId), models, job.now, job.bands);
    if (job.returnScores) out.push({ row: scoreRow(s), properties: writeBackProperties(s) });
  }
  scored += chunk.length;
  if (job.returnScores && out.length >= job.chunkSize) await post();
}
if (job.returnScores && out.length > 0) await post();
await store.close();
port.postMessage({ kind: 'done', scored } satisfies WorkerMessage);
port.close();
