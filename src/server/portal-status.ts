/**
 * Whether a portal is connected, as the webhook receivers ask it for every delivery (500 a second
 * under load). Without this, each delivery waited for a `portals.get` before its 200: a Postgres
 * round trip per request on the web role (issue 16).
 *
 * Only the positive answer is kept, and only for `ttlMs`:
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

  async function lookUp(portal: string): Promise<PortalState> {
    const gen = generation.get(portal) ?? 0;
    const readAt = o.now();
    const p = await o.portals.get(portal);
    const state: PortalState = p === undefined ? 'unknown' : p.status === 'connected' ? 'connected' : 'disconnected';
    if (state === 'connected' && (generation.get(portal) ?? 0) === gen) connected.set(portal, readAt);
    return state;
  }

  return {
    state(portal) {
      const at = connected.get(portal);
      // synchronous on a hit: nothing awaited before the acknowledgement
      if (at !== undefined && o.now() - at < ttl) return 'connected';
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
