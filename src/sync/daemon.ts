import { OBJECT_TYPES, type CrmConnector, type ObjectType } from '../connectors/types.ts';
import type { CrmError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { pollDue } from './poll-due.ts';
import { reconcileIds, type ReconcileResult } from './reconcile.ts';
import { syncStream, type StreamProgress, type StreamResult } from './sync-stream.ts';
import { drainOutbox, type WriteBackResult } from './write-back.ts';

/**
 * Streams in dependency order: companies before the contacts that point at them, contacts
 * before the records linked to them, so a cycle leaves the cache consistent.
 */
export const STREAM_ORDER: readonly ObjectType[] = OBJECT_TYPES;

export type PortalRuntime = {
  portal: string;
  connector: CrmConnector;
  /**
   * While the portal's change notifications run (a subscription that nudges its streams), the
   * periodic pass over every stream comes this rarely instead of every `intervalMs`; undefined = every interval.
   */
  pollEveryMs?: () => number | undefined;
};

/** Records to re-read directly before a pass (what the incremental feed cannot see, e.g. association changes). */
export type RefreshRequest = { type: ObjectType; ids: readonly string[] };

export type CycleSummary = {
  portal: string;
  streams: StreamResult[];
  scored: number;
  enqueued: number;
  writeBack: WriteBackResult | undefined;
  /** the first error that stopped the portal this cycle (auth, forbidden) */
  error: CrmError | undefined;
  startedAt: number;
  finishedAt: number;
};

export type DaemonDeps = {
  store: Store;
  logger: Logger;
  now?: () => number;
  /** scores the portal's dirty contacts and enqueues changed values (src/scoring/score-portal.ts) */
  score: (portal: string, signal: AbortSignal) => Promise<{ scored: number; enqueued: number }>;
  /** full pass over every stream this often; nudges run sooner */
  intervalMs: number;
  /** ids-only reconciliation (GDPR deletes, purges) this often per portal; default 24 h, 0 = never */
  reconcileEveryMs?: number;
  onProgress?: (p: StreamProgress) => void;
  onCycle?: (s: CycleSummary) => void;
};

type PortalState = {
  rt: PortalRuntime;
  pending: Set<ObjectType>;
  /** records to re-read directly (connector.records), e.g. after an association-change webhook */
  refresh: Map<ObjectType, Set<string>>;
  /** score + write back even if no stream is pending (a rescore request) */
  flush: boolean;
  /** when the last ids-only reconciliation ran (daemon start counts as one) */
  reconciledAt: number;
  /** when the periodic pass last nudged every stream */
  polledAt: number;
  running: Promise<void> | undefined;
  stopped: boolean;
};

/**
 * Per portal, one worker loop: a nudge adds streams to the pending set; the loop syncs them in
 * dependency order, then scores dirty contacts and drains the outbox, and repeats while nudges
 * arrived meanwhile. So each stream is single-flight and any number of nudges during a run
 * coalesce into one more pass. Portals are independent: one failing never stops another.
 */
export function createDaemon(deps: DaemonDeps) {
  const { store, logger } = deps;
  const now = deps.now ?? Date.now;
  const portals = new Map<string, PortalState>();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const counters = { cycles: 0, streamFailures: 0, written: 0, scored: 0 };

  async function cycle(
    state: PortalState,
    types: readonly ObjectType[],
    after: { score: boolean; writeBack: boolean; beforeWriteBack?: () => Promise<void> } = { score: true, writeBack: true },
  ): Promise<CycleSummary> {
    const { portal, connector } = state.rt;
    const startedAt = now();
    const summary: CycleSummary = {
      portal,
      streams: [],
      scored: 0,
      enqueued: 0,
      writeBack: undefined,
      error: undefined,
      startedAt,
      finishedAt: startedAt,
    };
    const signal = controller.signal;
    await refreshRecords(state, signal);
    for (const type of STREAM_ORDER) {
      if (!types.includes(type) || signal.aborted) continue;
      const opts = deps.onProgress === undefined ? { signal } : { signal, onProgress: deps.onProgress };
      const result = await syncStream({ store, connector, portal, logger, now }, type, opts);
      summary.streams.push(result);
      if (result.status === 'failed') {
        counters.streamFailures++;
        const kind = result.error?.kind;
        if (kind === 'auth' || kind === 'forbidden') {
          // The token is dead or lacks scopes: every other stream would fail the same way.
          summary.error = result.error;
          await store.portals.markDisconnected(portal, `${kind}: ${result.error?.message ?? ''}`);
          state.stopped = true;
          logger.error({ portal, kind }, 'portal disconnected; its sync stops until it is reinstalled');
          break;
        }
      }
    }
    const every = deps.reconcileEveryMs ?? 24 * 3_600_000;
    if (!signal.aborted && !state.stopped && every > 0 && now() - state.reconciledAt >= every) await reconcile(state, signal);
    if (!signal.aborted && !state.stopped && after.score) {
      const s = await deps.score(portal, signal);
      summary.scored = s.scored;
      summary.enqueued = s.enqueued;
      counters.scored += s.scored;
    }
    if (!signal.aborted && !state.stopped && after.writeBack) {
      await after.beforeWriteBack?.();
      summary.writeBack = await drainOutbox({ store, connector, portal, logger }, { signal });
      counters.written += summary.writeBack.written;
      if (summary.writeBack.error?.kind === 'auth') {
        await store.portals.markDisconnected(portal, `auth: ${summary.writeBack.error.message}`);
        state.stopped = true;
      }
    }
    summary.finishedAt = now();
    counters.cycles++;
    deps.onCycle?.(summary);
    return summary;
  }

  /**
   * Re-reads the records queued by `refresh` and upserts them (one transaction per type). A
   * failure puts the ids back for the next pass and is logged; the periodic sweep is the backstop.
   */
  async function refreshRecords(state: PortalState, signal: AbortSignal): Promise<void> {
    const { portal, connector } = state.rt;
    if (state.refresh.size === 0 || connector.records === undefined) return;
    const queued = [...state.refresh];
    state.refresh.clear();
    for (const [type, idSet] of queued) {
      if (signal.aborted) return;
      const ids = [...idSet];
      try {
        const records = await connector.records(type, ids, signal);
        const changed = await store.records.upsertPage(records);
        logger.debug({ portal, stream: type, asked: ids.length, changed }, 'records re-read after a webhook');
      } catch (e) {
        const again = state.refresh.get(type) ?? new Set<string>();
        for (const id of ids) again.add(id);
        state.refresh.set(type, again);
        logger.warn({ portal, stream: type, ids: ids.length, err: (e as Error).message }, 'could not re-read records; retrying next pass');
        return;
      }
    }
  }

  /** Types reconciled by id: GDPR deletes hit contacts; purged companies would keep stale links. */
  const RECONCILED: readonly ObjectType[] = ['contacts', 'companies'];

  async function reconcile(state: PortalState, signal: AbortSignal): Promise<ReconcileResult[]> {
    const { portal, connector } = state.rt;
    state.reconciledAt = now();
    const out: ReconcileResult[] = [];
    for (const type of RECONCILED) {
      try {
        const r = await reconcileIds({ store, connector, portal, logger, now }, type, signal);
        if (r !== undefined) out.push(r);
      } catch (e) {
        logger.warn({ portal, stream: type, err: (e as Error).message }, 'reconciliation failed; next time');
      }
    }
    return out;
  }

  /**
   * Runs `fn` as the portal's running work once the work before it is over: `stop()` waits for it
   * as for the daemon's own passes (a pass a job runs included: the store must outlive it).
   */
  async function exclusive<T>(state: PortalState, fn: () => Promise<T>): Promise<T> {
    while (state.running !== undefined) await state.running;
    const work = fn();
    const running = work.then(
      () => undefined,
      () => undefined,
    );
    state.running = running;
    try {
      return await work;
    } finally {
      if (state.running === running) state.running = undefined;
    }
  }

  function kick(state: PortalState): Promise<void> {
    if (state.running !== undefined) return state.running;
    state.running = (async () => {
      try {
        while ((state.pending.size > 0 || state.flush || state.refresh.size > 0) && !controller.signal.aborted && !state.stopped) {
          const types = [...state.pending];
          state.pending.clear();
          state.flush = false;
          await cycle(state, types);
        }
      } catch (e) {
        logger.error({ portal: state.rt.portal, err: (e as Error).message }, 'portal cycle crashed');
      } finally {
        state.running = undefined;
      }
    })();
    return state.running;
  }

  /** Ask for these streams (default all) to be synced soon; resolves when that pass is done. */
  function nudge(portal: string, types: readonly ObjectType[] = STREAM_ORDER): Promise<void> {
    const s = portals.get(portal);
    if (s === undefined || s.stopped) return Promise.resolve();
    for (const t of types) s.pending.add(t);
    if (types.length === 0) s.flush = true;
    const current = s.running;
    // A nudge during a run is coalesced into the next pass of the same loop.
    return current === undefined ? kick(s) : current.then(() => (s.pending.size > 0 || s.flush ? kick(s) : undefined));
  }

  /**
   * Re-read these records directly (their associations included), then score and write back.
   * For what the incremental feed cannot see; without `connector.records` it nudges the stream.
   */
  function refresh(portal: string, type: ObjectType, ids: readonly string[]): Promise<void> {
    const s = portals.get(portal);
    if (s === undefined || s.stopped) return Promise.resolve();
    if (s.rt.connector.records === undefined) return nudge(portal, [type]);
    const set = s.refresh.get(type) ?? new Set<string>();
    for (const id of ids) set.add(id);
    s.refresh.set(type, set);
    const current = s.running;
    return current === undefined ? kick(s) : current.then(() => (s.refresh.size > 0 ? kick(s) : undefined));
  }

  return {
    nudge,
    refresh,
    addPortal(rt: PortalRuntime): void {
      // reconciledAt 0: the first cycle of a process reconciles (a `sync --once` too), then every reconcileEveryMs
      portals.set(rt.portal, { rt, pending: new Set(), refresh: new Map(), flush: false, reconciledAt: 0, polledAt: Number.NEGATIVE_INFINITY, running: undefined, stopped: false });
    },
    removePortal(portal: string): void {
      const s = portals.get(portal);
      if (s !== undefined) s.stopped = true;
      portals.delete(portal);
    },
    portals(): string[] {
      return [...portals.keys()];
    },
    /** The ids-only reconciliation for a portal now (tests, bench); the daemon runs it every `reconcileEveryMs`. */
    async reconcile(portal: string): Promise<ReconcileResult[]> {
      const s = portals.get(portal);
      if (s === undefined) throw new Error(`unknown portal ${portal}`);
      return exclusive(s, () => reconcile(s, controller.signal));
    },
    /**
     * One pass for a portal, awaited (`sync --once`, `demo --once`, tests). `score` / `writeBack`
     * false make it a pure sync; `beforeWriteBack` runs just before the write-back (a worker
     * provisions a portal's fields there, src/main.ts runPass).
     */
    async runOnce(
      portal: string,
      opts: { types?: readonly ObjectType[]; score?: boolean; writeBack?: boolean; refresh?: readonly RefreshRequest[]; beforeWriteBack?: () => Promise<void> } = {},
    ): Promise<CycleSummary> {
      const s = portals.get(portal);
      if (s === undefined) throw new Error(`unknown portal ${portal}`);
      return exclusive(s, () => {
        for (const r of opts.refresh ?? []) {
          const set = s.refresh.get(r.type) ?? new Set<string>();
          for (const id of r.ids) set.add(id);
          s.refresh.set(r.type, set);
        }
        const after = { score: opts.score ?? true, writeBack: opts.writeBack ?? true };
        return cycle(s, opts.types ?? STREAM_ORDER, opts.beforeWriteBack === undefined ? after : { ...after, beforeWriteBack: opts.beforeWriteBack });
      });
    },
    start(): void {
      const tick = () => {
        for (const [p, s] of portals) {
          if (!pollDue({ now: now(), lastPolledAt: s.polledAt, tickMs: deps.intervalMs, everyMs: s.rt.pollEveryMs?.() })) continue;
          s.polledAt = now();
          void nudge(p);
        }
      };
      tick();
      timer = setInterval(tick, deps.intervalMs);
      timer.unref();
    },
    /** Waits for in-flight work (each stream finishes and commits its current page) and stops. */
    async stop(): Promise<void> {
      if (timer !== undefined) clearInterval(timer);
      controller.abort();
      await Promise.all([...portals.values()].map((s) => s.running));
    },
    /** Resolves when no portal has work running or pending. */
    async idle(): Promise<void> {
      for (;;) {
        const running = [...portals.values()].map((s) => s.running).filter((p) => p !== undefined);
        if (running.length === 0) return;
        await Promise.all(running);
      }
    },
    counters(): Readonly<typeof counters> {
      return { ...counters };
    },
    signal: controller.signal,
  };
}

export type Daemon = ReturnType<typeof createDaemon>;
