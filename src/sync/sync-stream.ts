import { asCrmError, CrmError } from '../errors.ts';
import type { CrmConnector, ObjectType } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';

export type StreamProgress = {
  portal: string;
  type: ObjectType;
  pages: number;
  /** records received (including boundary repeats) */
  records: number;
  /** rows that actually changed in the cache */
  changed: number;
  /** the CRM's own total for this pass, when it says */
  total: number | undefined;
  startedAt: number;
  /** set on the last report of a pass, so a progress bar can freeze its rate */
  finishedAt?: number;
  status?: 'ok' | 'failed' | 'aborted';
};

export type StreamResult = StreamProgress & {
  status: 'ok' | 'failed' | 'aborted';
  error?: CrmError;
};

export type SyncStreamDeps = {
  store: Store;
  connector: CrmConnector;
  portal: string;
  logger: Logger;
  now?: () => number;
};

/**
 * Pulls one stream to the end. Each page, its contact links, the dirty marks and the cursor are
 * committed in ONE SQLite transaction (ARCHITECTURE §1), so a crash at any point resumes from the
 * last committed page and at worst re-reads that page (upserts are idempotent).
 *
 * Abort is checked between pages only: the page in hand is always committed before stopping.
 */
export async function syncStream(
  deps: SyncStreamDeps,
  type: ObjectType,
  opts: { signal: AbortSignal; onProgress?: (p: StreamProgress) => void; graceMs?: number },
): Promise<StreamResult> {
  const { store, connector, portal, logger } = deps;
  const now = deps.now ?? Date.now;
  const progress: StreamProgress = { portal, type, pages: 0, records: 0, changed: 0, total: undefined, startedAt: now() };
  const runId = store.syncRuns.start(portal, type);
  const log = logger.child({ portal, stream: type });
  const cursor = store.cursors.get(portal, type);
  log.debug({ resuming: cursor !== null }, 'stream start');

  // On stop, the request in flight gets a grace period to arrive so its page is committed
  // ("finish the page, commit, exit"); only a request hanging past it is cut.
  const inner = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const onAbort = () => {
    grace = setTimeout(() => inner.abort(opts.signal.reason), opts.graceMs ?? 10_000);
  };
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const page of connector.changes(type, cursor, inner.signal)) {
      const foreign = page.records.find((r) => r.portal !== portal || r.type !== type);
      if (foreign !== undefined) {
        // A connector bug, not bad CRM data: refuse to write another portal's or stream's rows.
        throw new CrmError('bad_response', `connector returned a ${foreign.type} record of ${foreign.portal} on ${portal}/${type}`, {
          crm: connector.crm,
        });
      }
      const changed = store.transaction(() => {
        let n = store.records.upsertPage(page.records);
        if (page.liveIds !== undefined) n += tombstoneMissing(store, portal, type, page.liveIds, now());
        store.cursors.set(portal, type, page.next);
        store.syncRuns.progress(runId, progress.pages + 1, progress.records + page.records.length);
        return n;
      });
      progress.pages++;
      progress.records += page.records.length;
      progress.changed += changed;
      if (page.total !== undefined) progress.total = page.total;
      opts.onProgress?.({ ...progress });
      if (opts.signal.aborted) break;
    }
    const status = opts.signal.aborted ? 'aborted' : 'ok';
    store.syncRuns.finish(runId, status);
    opts.onProgress?.({ ...progress, finishedAt: now(), status });
    log.info({ pages: progress.pages, records: progress.records, changed: progress.changed, status }, 'stream done');
    return { ...progress, status };
  } catch (e) {
    if (inner.signal.aborted) {
      // Stopped mid-request: nothing half-written, the last committed cursor stands.
      store.syncRuns.finish(runId, 'aborted');
      opts.onProgress?.({ ...progress, finishedAt: now(), status: 'aborted' });
      return { ...progress, status: 'aborted' };
    }
    // A CrmError is the CRM's answer; anything else is our bug (`internal`): logged with its
    // stack, and not dressed up as an outage to be retried.
    const error = asCrmError(e, connector.crm);
    store.syncRuns.finish(runId, 'failed', { kind: error.kind, message: error.message });
    if (error.kind === 'internal') log.error({ kind: error.kind, err: error.message, stack: (e as Error).stack }, 'stream failed on an internal error');
    else log.warn({ kind: error.kind, err: error.message }, 'stream failed');
    opts.onProgress?.({ ...progress, finishedAt: now(), status: 'failed' });
    return { ...progress, status: 'failed', error };
  } finally {
    clearTimeout(grace);
    opts.signal.removeEventListener('abort', onAbort);
  }
}

/** Marks cached live records the CRM no longer lists as deleted (a connector's sweep, `Page.liveIds`). */
function tombstoneMissing(store: Store, portal: string, type: ObjectType, liveIds: readonly string[], at: number): number {
  const live = new Set(liveIds);
  const gone = [...store.records.iterateIds(portal, type)].filter((id) => !live.has(id));
  const tombstones = gone.flatMap((id) => {
    const r = store.records.get(portal, type, id);
    return r === undefined ? [] : [{ portal, type, id, companyId: r.companyId, updatedAt: Math.max(at, r.updatedAt + 1), deleted: true, data: r.data, contactIds: type === 'contacts' ? undefined : [] }];
  });
  return store.records.upsertPage(tombstones);
}
