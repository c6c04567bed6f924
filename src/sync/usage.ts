import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';

/** What a connector has counted since it was created. */
export type CallCounts = { calls: number; rateLimited: number };

/**
 * API usage per portal, persisted by minute for `rapport status` (usage against the CRM's limit):
 * after each daemon cycle, the calls and 429s since the last record.
 */
export function createUsageRecorder(deps: { store: Pick<Store, 'apiUsage'>; logger: Logger; counts(portal: string): CallCounts | undefined }) {
  const reported = new Map<string, CallCounts>();
  return async function recordUsage(portal: string): Promise<void> {
    const s = deps.counts(portal);
    if (s === undefined) return;
    const before = reported.get(portal) ?? { calls: 0, rateLimited: 0 };
    reported.set(portal, { calls: s.calls, rateLimited: s.rateLimited });
    try {
      await deps.store.apiUsage.record(portal, s.calls - before.calls, s.rateLimited - before.rateLimited);
    } catch (e) {
      // bookkeeping for `rapport status`: a locked database costs one minute's figures, not the cycle
      deps.logger.warn({ portal, err: (e as Error).message }, 'recording API usage failed');
    }
  };
}
