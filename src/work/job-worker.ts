/** Worker thread of `runJob` (jobs.ts): one job over a read-only store, its result posted back. */
import { parentPort, workerData } from 'node:worker_threads';
import { buildReport } from '../report/index.ts';
import { fitPortal } from '../scoring/train.ts';
import { openStore, type StoreLocation } from '../store/index.ts';
import type { Job, JobMessage } from './jobs.ts';
import { lowerThreadPriority } from './yield.ts';

const port = parentPort;
if (port === null) throw new Error('job-worker must run as a worker thread');
const { location, job } = workerData as { location: StoreLocation; job: Job };
lowerThreadPriority();

const store = openStore(location, { readonly: true });
let message: JobMessage;
try {
  if (job.kind === 'train') {
    message = { ok: true, result: await fitPortal(store, job.portal, job.options) };
  } else {
    const r = await buildReport(store, job.portal, job.options);
    message = { ok: true, result: 'error' in r ? r : { html: r.html, contacts: r.data.contacts } };
  }
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  message = { ok: false, message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) };
} finally {
  await store.close();
}
port.postMessage(message);
port.close();
