import { Worker } from 'node:worker_threads';
import type { Db } from './db.ts';
import { workerModule } from '../work/worker-module.ts';

/** How often the checkpoint thread copies the WAL into the database file. */
export const CHECKPOINT_EVERY_MS = 500;
/** SQLite's own default (https://www.sqlite.org/pragma.html#pragma_wal_autocheckpoint), restored when the thread is gone. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

export type BackgroundCheckpoints = { stop(): Promise<void> };

/**
 * WAL checkpoints on a thread of their own instead of inside the serving thread's commits.
 *
 * By default SQLite checkpoints in the commit that takes the WAL past 1,000 pages
 * (https://www.sqlite.org/wal.html#automatic_checkpoint): that commit copies ~4 MB into the
 * database file and syncs it, and on this machine took up to 19 ms instead of 0.2 ms (a loop of
 * 50-row commits: p99 1.3 ms with automatic checkpoints, 0.35 ms without). On the serving thread
 * that is a webhook acknowledgement or a card request waiting. Here the serving connection turns
 * automatic checkpoints off and a worker thread with its own connection runs PASSIVE checkpoints
 * every CHECKPOINT_EVERY_MS: those never wait for nor block writers or readers
 * (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html), and once a checkpoint has copied every
 * frame the next writer starts the WAL file over, so it stays small.
 *
 * If the thread cannot run (or dies), the connection goes back to automatic checkpoints: slower
 * commits, never an unbounded WAL. `path` defaults to the connection's file.
 */
export function startBackgroundCheckpoints(db: Db, opts: { path?: string; everyMs?: number; onFailure?: (e: Error) => void } = {}): BackgroundCheckpoints {
  const mod = workerModule(import.meta.url, 'checkpoint-worker');
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  let failed = false;
  const worker = new Worker(mod.url, { workerData: { path: opts.path ?? db.name, everyMs: opts.everyMs ?? CHECKPOINT_EVERY_MS }, ...mod.options });
  // the thread must not keep a process alive that has nothing else to do
  worker.unref();
  // an error is followed by the exit: one fallback, reported once
  const fallBack = (e: Error) => {
    if (stopping || failed || !db.open) return;
    failed = true;
    db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    opts.onFailure?.(e);
  };
  worker.on('error', fallBack);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      if (code !== 0) fallBack(new Error(`the WAL checkpoint thread exited with code ${code}`));
      resolve();
    }),
  );
  return {
    async stop() {
      stopping = true;
      worker.postMessage('stop');
      await exited;
    },
  };
}
