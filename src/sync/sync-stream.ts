import { asCrmError, CrmError } from '../errors.ts';
import type { CrmConnector, ObjectType, Page } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { withGrace } from '../work/grace.ts';

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
  store: Pick<Store, 'syncRuns' | 'cursors' | 'commitPage'>;
  connector: CrmConnector;
  portal: string;
  logger: Logger;
  now?: () => number;
};

/**
 * Pulls one stream to the end. Each page, its contact links, the dirty marks and the cursor are
 * committed in ONE store transaction (`store.commitPage`, ARCHITECTURE §1), so a crash at any point resumes from the
 * last committed page and at worst re-reads that page (upserts are idempotent).
 *
 * Pipelined one page deep: page N+1 is requested (its cursor came with page N) while page N is
 * committed, so a stream fetches a page every max(request, commit) instead of every
 * request + commit (issue 16, bench:scale). Commits stay one at a time and in page order, each with
 * its own cursor, so what is committed is always a prefix of the stream; a failed fetch fails the
 * stream only after the pages before it are committed. The connector's limiter still paces every
 * request: the read-ahead only starts the next one sooner.
 *
 * Abort is checked between pages only: the page in hand is always committed before stopping, and
 * the page already requested (ahead, or awaited) gets the grace period to arrive and be committed
 * too; no page is requested after the stop. With no grace (`graceMs: 0`) the requested page is cut
 * at once and read again on resume.
 */
export async function syncStream(
  deps: SyncStreamDeps,
  type: ObjectType,
  opts: { signal: AbortSignal; onProgress?: (p: StreamProgress) => void; graceMs?: number },
): Promise<StreamResult> {
  const { store, connector, portal, logger } = deps;
  const now = deps.now ?? Date.now;
  const progress: StreamProgress = { portal, type, pages: 0, records: 0, changed: 0, total: undefined, startedAt: now() };
  // the run recorded and the cursor read at once: independent, so on Postgres two round trips in
  // one wait, for each of a pass's ten streams
  const [runId, cursor] = await Promise.all([store.syncRuns.start(portal, type), store.cursors.get(portal, type)]);
  const log = logger.child({ portal, stream: type });
  log.debug({ resuming: cursor !== null }, 'stream start');

  // On stop, the request in flight gets a grace period to arrive so its page is committed
  // ("finish the page, commit, exit"); only a request hanging past it is cut.
  const inner = withGrace(opts.signal, opts.graceMs);
  let pages: AsyncIterator<Page> | undefined;
  /** the next page, requested ahead while the one in hand is committed */
  let ahead: Promise<IteratorResult<Page>> | undefined;
  const request = (from: AsyncIterator<Page>) => {
    const p = from.next();
    // a failure is seen when this page's turn comes (after the previous page is committed), not as an unhandled rejection
    p.catch(() => {});
    return p;
  };
  try {
    const from = connector.changes(type, cursor, inner.signal)[Symbol.asyncIterator]();
    pages = from;
    ahead = request(from);
    while (ahead !== undefined) {
      const next = await ahead;
      ahead = undefined;
      if (next.done === true) break;
      const page = next.value;
      const foreign = page.records.find((r) => r.portal !== portal || r.type !== type);
      if (foreign !== undefined) {
        // A connector bug, not bad CRM data: refuse to write another portal's or stream's rows.
        throw new CrmError('bad_response', `connector returned a ${foreign.type} record of ${foreign.portal} on ${portal}/${type}`, {
          crm: connector.crm,
        });
      }
      if (!opts.signal.aborted) ahead = request(from);
      const changed = await store.commitPage({
        portal,
        stream: type,
        records: page.records,
        liveIds: page.liveIds,
        cursor: page.next,
        run: { id: runId, pages: progress.pages + 1, records: progress.records + page.records.length },
        at: now(),
      });
      progress.pages++;
      progress.records += page.records.length;
      progress.changed += changed;
      if (page.total !== undefined) progress.total = page.total;
      opts.onProgress?.({ ...progress });
      // stopped, and the page requested ahead may not wait: it is cut in `finally`, nothing of it committed
      if (opts.signal.aborted && inner.signal.aborted) break;
    }
    const status = opts.signal.aborted ? 'aborted' : 'ok';
    await store.syncRuns.finish(runId, status);
    opts.onProgress?.({ ...progress, finishedAt: now(), status });
    log.info({ pages: progress.pages, records: progress.records, changed: progress.changed, status }, 'stream done');
    return { ...progress, status };
  } catch (e) {
    if (inner.signal.aborted) {
      // Stopped mid-request: nothing half-written, the last committed cursor stands.
      await store.syncRuns.finish(runId, 'aborted');
      opts.onProgress?.({ ...progress, finishedAt: now(), status: 'aborted' });
      return { ...progress, status: 'aborted' };
    }
    // A CrmError is the CRM's answer; anything else is our bug (`internal`): logged with its
    // stack, and not dressed up as an outage to be retried.
    const error = asCrmError(e, connector.crm);
    await store.syncRuns.finish(runId, 'failed', { kind: error.kind, message: error.message });
    if (error.kind === 'internal') log.error({ kind: error.kind, err: error.message, stack: (e as Error).stack }, 'stream failed on an internal error');
    else log.warn({ kind: error.kind, err: error.message }, 'stream failed');
    opts.onProgress?.({ ...progress, finishedAt: now(), status: 'failed' });
    return { ...progress, status: 'failed', error };
  } finally {
    inner.dispose();
    if (ahead !== undefined) {
      // the stream stopped or failed with a page still requested: cut it (nothing of it is committed) and let it settle
      inner.cut(new Error('stream stopped'));
      await ahead.catch(() => undefined);
    }
    // closes the connector's generator (its finally blocks run) however the loop ended
    await pages?.return?.(undefined).catch(() => undefined);
  }
}
