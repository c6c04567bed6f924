/**
 * Whether a portal is connected, as the webhook receivers ask it for every delivery (500 a second
 * under load). Without this, each delivery waited for a `portals.get` before its 200: a Postgres
 * round trip per request on the web role (issue 16).
 *
 * Only the positive answer is kept. Younger than `ttlMs` it is given from memory (past half of it,
 * while one lookup refreshes it in the background); older, up to `maxStaleMs`, it is still given
 * from memory while a lookup runs (this caller starts one if none is running), so a steady stream
 * of deliveries never waits for the database: a lookup queues behind whatever else the database
 * is doing, and on 5 December, during a backfill, a refresh that outlived the TTL held ~20
 * deliveries for 14–42 ms each when its answer was waited for (bench:scale). One lookup at a time
 * per portal is shared by every caller that needs it:
 * - a portal this process does not know as connected is looked up every time, so an install made
 *   by another web process counts from its first delivery on;
 * - a portal disconnected by another process (a worker whose refresh the CRM refused) is still
 *   nudged until a lookup started past half the TTL answers: a pass the worker then refuses, as
 *   it would for a delivery that raced the disconnection anyway (a nudge too many is harmless);
 * - a lookup that fails drops the answer, so the next caller waits for its own and meets the
 *   error (the receiver then answers 5xx and the CRM retries): with the database down, deliveries
 *   are refused from the first failed lookup on instead of acknowledged for up to `maxStaleMs`;
 * - this process's own writes (install, reconnect, disconnect) drop the entry at once
 *   (`forgettingWrites` wraps the store's portal writes).
 */
import type { PortalState, PortalStatus } from '../connectors/provider.ts';
import type { PortalsPort } from '../store/index.ts';

export type { PortalState, PortalStatus };

/** A "connected" younger than this needs no lookup (past half of it, one refreshes it): 500 deliveries/s for a portal cost one lookup per interval. */
export const PORTAL_STATUS_TTL_MS = 5_000;
/** How old a "connected" may be and still be given while its refresh runs; older, callers wait for the lookup. */
export const PORTAL_STATUS_MAX_STALE_MS = 30_000;

export function createPortalStatusCache(o: { portals: Pick<PortalsPort, 'get'>; now(): number; ttlMs?: number; maxStaleMs?: number }): PortalStatus & { forget(portal: string): void } {
  const ttl = o.ttlMs ?? PORTAL_STATUS_TTL_MS;
  const maxStale = Math.max(ttl, o.maxStaleMs ?? PORTAL_STATUS_MAX_STALE_MS);
  /** portal → when its "connected" answer was read */
  const connected = new Map<string, number>();
  /** bumped by forget: a lookup that started before a write of ours must not cache its answer */
  const generation = new Map<string, number>();
  /** the lookup in flight per portal, shared by every caller of its generation */
  const inFlight = new Map<string, { gen: number; state: Promise<PortalState> }>();

  function lookUp(portal: string): Promise<PortalState> {
    const gen = generation.get(portal) ?? 0;
    const running = inFlight.get(portal);
    if (running !== undefined && running.gen === gen) return running.state;
    const readAt = o.now();
    const entry = { gen, state: Promise.resolve<PortalState>('unknown') };
    entry.state = (async (): Promise<PortalState> => {
      const current = () => (generation.get(portal) ?? 0) === gen;
      try {
        const p = await o.portals.get(portal);
        const answer: PortalState = p === undefined ? 'unknown' : p.status === 'connected' ? 'connected' : 'disconnected';
        if (current()) {
          if (answer === 'connected') connected.set(portal, readAt);
          else connected.delete(portal);
        }
        return answer;
      } catch (e) {
        if (current()) connected.delete(portal);
        throw e;
      } finally {
        if (inFlight.get(portal) === entry) inFlight.delete(portal);
      }
    })();
    inFlight.set(portal, entry);
    return entry.state;
  }

  return {
    state(portal) {
      const at = connected.get(portal);
      const age = at === undefined ? Infinity : o.now() - at;
      // synchronous on a hit: nothing awaited before the acknowledgement
      if (age < ttl / 2) return 'connected';
      if (age < maxStale) {
        // refresh ahead (one at a time: a running lookup is shared); a failed one drops the entry
        lookUp(portal).catch(() => undefined);
        return 'connected';
      }
      connected.delete(portal);
      return lookUp(portal);
    },
    forget(portal) {
      connected.delete(portal);
      generation.set(portal, (generation.get(portal) ?? 0) + 1);
    },
  };
}

/** The store's portal writes, each dropping the portal's cached state before and after it. */
export function forgettingWrites(portals: PortalsPort, forget: (portal: string) => void): PortalsPort {
  const around = async <T>(portal: string, write: () => Promise<T>): Promise<T> => {
    forget(portal);
    try {
      return await write();
    } finally {
      forget(portal);
    }
  };
  return {
    ...portals,
    upsert: (p) => around(p.portal, () => portals.upsert(p)),
    install: (p, tokens) => around(p.portal, () => portals.install(p, tokens)),
    markDisconnected: (portal, reason) => around(portal, () => portals.markDisconnected(portal, reason)),
    markConnected: (portal) => around(portal, () => portals.markConnected(portal)),
  };
}
