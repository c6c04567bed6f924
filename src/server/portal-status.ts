/**
 * Whether a portal is connected, as the webhook receivers ask it for every delivery (500 a second
 * under load). Without this, each delivery waited for a `portals.get` before its 200: a Postgres
 * round trip per request on the web role (issue 16).
 *
 * Only the positive answer is kept, and only for `ttlMs`; past half of it, the answer is still
 * given from memory while one lookup refreshes it in the background, so a steady stream of
 * deliveries never waits for the database (a lookup queues behind whatever else the database is
 * doing, a backfill's writes, and every delivery for the portal arriving meanwhile waited with
 * it), and one lookup at a time per portal is shared by every delivery that needs it:
 * - a portal this process does not know as connected is looked up every time, so an install made
 *   by another web process counts from its first delivery on;
 * - a portal disconnected by another process (a worker whose refresh the CRM refused) is still
 *   nudged for at most `ttlMs` — a pass the worker then refuses, as it would for a delivery that
 *   raced the disconnection anyway;
 * - this process's own writes (install, reconnect, disconnect) drop the entry at once
 *   (`forgettingWrites` wraps the store's portal writes).
 */
import type { PortalState, PortalStatus } from '../connectors/provider.ts';
import type { PortalsPort } from '../store/index.ts';

export type { PortalState, PortalStatus };

/** Long enough that 500 deliveries/s for a portal cost one lookup per interval, short enough to bound a stale "connected". */
export const PORTAL_STATUS_TTL_MS = 5_000;

export function createPortalStatusCache(o: { portals: Pick<PortalsPort, 'get'>; now(): number; ttlMs?: number }): PortalStatus & { forget(portal: string): void } {
  const ttl = o.ttlMs ?? PORTAL_STATUS_TTL_MS;
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
      try {
        const p = await o.portals.get(portal);
        const answer: PortalState = p === undefined ? 'unknown' : p.status === 'connected' ? 'connected' : 'disconnected';
        if ((generation.get(portal) ?? 0) === gen) {
          if (answer === 'connected') connected.set(portal, readAt);
          else connected.delete(portal);
        }
        return answer;
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
      if (age < ttl) {
        // refresh ahead; a failed refresh leaves the entry to expire, and the next caller past the TTL sees the error
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
