/**
 * Heavy reads off the serving thread (issue 12, docs/ARCHITECTURE.md "Threads"): training a
 * portal's models and building its report run in a worker thread that opens the store read-only
 * at `store.location` and posts back plain data; the calling thread, the only writer, saves it.
 * A webhook answer or a card request is then never queued behind seconds of model fitting.
 *
 * One job per worker: a training runs weekly per portal and a report is cached until the scores
 * change, so the ~0.3 s a worker costs to start is small beside the work it moves.
 */
import { Worker } from 'node:worker_threads';
import type { ReportError, ReportOptions } from '../report/index.ts';
import type { FittedModels, TrainOptions } from '../scoring/train.ts';
import type { StoreLocation } from '../store/index.ts';
import { workerModule } from './worker-module.ts';

export type Job =
  | { kind: 'train'; portal: string; options: Omit<TrainOptions, 'logger'> }
  | { kind: 'report'; portal: string; options: ReportOptions };

export type JobResult<J extends Job> = J extends { kind: 'train' }
  ? FittedModels
  : { html: string; contacts: number } | ReportError;

export type JobMessage = { ok: true; result: unknown } | { ok: false; message: string; stack?: string };

/** Where a worker can open the same data: an in-memory SQLite database cannot be shared. */
export const shareable = (location: StoreLocation): boolean => location.kind === 'postgres' || (location.path !== ':memory:' && location.path !== '');

/** Runs `job` in a fresh worker thread over a read-only store at `location`. */
export function runJob<J extends Job>(location: StoreLocation, job: J): Promise<JobResult<J>> {
  const mod = workerModule(import.meta.url, 'job-worker');
  return new Promise((resolve, reject) => {
    const w = new Worker(mod.url, { workerData: { location, job }, ...mod.options });
    let settled = false;
    w.once('message', (m: JobMessage) => {
      settled = true;
      if (m.ok) resolve(m.result as JobResult<J>);
      else {
        const e = new Error(m.message);
        if (m.stack !== undefined) e.stack = m.stack;
        reject(e);
      }
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`${job.kind} worker exited with code ${code} before answering`));
    });
  });
}
