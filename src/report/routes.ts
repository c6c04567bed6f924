/**
 * GET /report?portal=<crm>:<id> — the same page as `rapport report`, served by the daemon for
 * the demo and operators. It has no authentication (like the card preview, src/server/preview.ts),
 * so it answers loopback clients only unless `allowRemote` is set. The page is rebuilt only when
 * the portal's scores or models changed since the last build (one cached page per portal).
 * A build reads the cache synchronously (measured here: 0.7 s for 1,500 contacts, 1.5 s for
 * 20,000), so on very large portals prefer `rapport report --out` to this route.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { buildReport } from './index.ts';
import { messagePage, portalHint } from '../html.ts';

export type ReportRouteDeps = {
  store: Store;
  logger: Logger;
  /** answer non-loopback clients too (default false) */
  allowRemote?: boolean;
  /** contacts sampled for the heavy charts (default 3,000) */
  sampleSize?: number;
};

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
// any provider's `<name>:<id>` (src/connectors/registry.ts names); a portal the store does not hold has no report
const querySchema = z.object({ portal: z.string().regex(/^[a-z][a-z0-9-]{0,30}:[A-Za-z0-9_-]{1,40}$/, 'expected ?portal=<crm>:<account id>') });

function isLoopback(c: Context): boolean {
  try {
    const address = getConnInfo(c).remote.address;
    return address !== undefined && LOOPBACK.has(address);
  } catch {
    return false;
  }
}

export function createReportRoutes(deps: ReportRouteDeps): Hono {
  const app = new Hono();
  const log = deps.logger.child({ component: 'report' });
  const cache = new Map<string, { key: string; html: string }>();
  const stateOf = deps.store.db.prepare<[string, string, string], { n: number; t: number | null; m: number | null }>(
    'SELECT (SELECT COUNT(*) FROM scores WHERE portal = ?) AS n, (SELECT MAX(scored_at) FROM scores WHERE portal = ?) AS t, (SELECT MAX(trained_at) FROM models WHERE portal = ?) AS m',
  );

  app.get('/', async (c) => {
    if (deps.allowRemote !== true && !isLoopback(c)) return c.html(messagePage('Forbidden', 'The report only answers local clients.'), 403);
    const q = querySchema.safeParse({ portal: c.req.query('portal') ?? '' });
    if (!q.success) return c.html(messagePage('Which portal?', portalHint(deps.store.portals.list().map((p) => p.portal))), 400);
    const portal = q.data.portal;
    const s = stateOf.get(portal, portal, portal);
    const key = `${s?.n ?? 0}|${s?.t ?? ''}|${s?.m ?? ''}`;
    const hit = cache.get(portal);
    if (hit !== undefined && hit.key === key) return c.html(hit.html, 200, { 'Cache-Control': 'no-store' });
    const started = performance.now();
    const r = await buildReport(deps.store, portal, deps.sampleSize === undefined ? {} : { sampleSize: deps.sampleSize });
    if ('error' in r) return c.html(messagePage('No report yet', r.message), 404);
    cache.set(portal, { key, html: r.html });
    log.info({ portal, ms: Math.round(performance.now() - started), contacts: r.data.contacts }, 'report built');
    return c.html(r.html, 200, { 'Cache-Control': 'no-store' });
  });
  return app;
}
