import { CHANGE_STREAM_CURSOR } from '../connectors/provider.ts';
import { readStoredChangeStream } from '../connectors/stored-change-stream.ts';
import type { Store } from '../store/index.ts';
import { pollDue } from '../sync/poll-due.ts';

/**
 * The portals the deployment's periodic tick queues a pass for (src/commands/worker.ts; one tick
 * per `tickMs` for the whole deployment): every connected portal, except those whose change
 * notifications are live, which are polled only every `pollEveryMs` as in the single process
 * (src/sync/daemon.ts). The subscription runs in whichever worker holds it
 * (src/work/change-streams.ts), so this reads the state that worker stores; a pass is a pass over
 * every stream whoever asked for it, so the last poll is the oldest of the streams' latest runs.
 * A holder that died with its state still `live` leaves its portal polled rarely only until
 * another worker takes the subscription over (within a heartbeat), resuming from the stored replay id.
 */
export async function portalsDue(store: Pick<Store, 'portals' | 'cursors' | 'syncRuns'>, opts: { now: number; tickMs: number }): Promise<string[]> {
  const due: string[] = [];
  for (const p of await store.portals.list()) {
    if (p.status !== 'connected') continue;
    const stream = readStoredChangeStream(await store.cursors.get(p.portal, CHANGE_STREAM_CURSOR));
    if (stream?.state === 'live') {
      const runs = await store.syncRuns.latestPerStream(p.portal);
      const lastPolledAt = runs.length === 0 ? null : Math.min(...runs.map((r) => r.startedAt));
      if (!pollDue({ now: opts.now, lastPolledAt, tickMs: opts.tickMs, everyMs: stream.pollEveryMs })) continue;
    }
    due.push(p.portal);
  }
  return due;
}
