/**
 * The thread of `startBackgroundCheckpoints` (checkpoints.ts): a connection of its own to the
 * SQLite file that runs a PASSIVE checkpoint every `everyMs` until told to stop.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

const { path, everyMs } = workerData as { path: string; everyMs: number };
// no migrations, no journal mode: the serving connection opened the file and owns both
const db = new Database(path, { fileMustExist: true });
// a checkpoint never waits for a lock (PASSIVE): the timeout only covers opening the WAL index
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), everyMs);
parentPort?.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
