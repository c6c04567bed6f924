/**
 * GET /report?portal=<crm>:<id> — the same page as `rapport report`, served by the daemon for
 * the demo and operators. It has no authentication (like the card preview, src/server/preview.ts),
 * so it answers loopback clients only unless `allowRemote` is set. The page is rebuilt only when
 * the portal's scores or models changed since the last build (one cached page per portal).
 * A build reads the whole cache (measured: 0.7 s for 1,500 contacts, 1.5 s for 20,000), so it
 * runs in a worker thread over a read-only store (src/work/jobs.ts): webhook answers and card
 * requests are not queued behind it. Two requests for the same portal share one build.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { runJob, shareable } from '../work/jobs.ts';
import { buildReport, type ReportError, type ReportOptions } from './index.ts';
import { messagePage, portalHint } from '../html.ts';

export type ReportRouteDeps = {
  store: Pick<Store, 'location' | 'portals' | 'scores' | 'models' | 'contacts' | 'records'>;
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

type Built = { html: string; contacts: number } | ReportError;

export function createReportRoutes(deps: ReportRouteDeps): Hono {
  const app = new Hono();
  const log = deps.logger.child({ component: 'report' });
  const cache = new Map<string, { key: string; html: string }>();
  const building = new Map<string, { key: string; done: Promise<Built> }>();
  const options: ReportOptions = deps.sampleSize === undefined ? {} : { sampleSize: deps.sampleSize };

  const build = async (portal: string): Promise<Built> => {
    // an in-memory database (tests) cannot be opened by another thread
    if (shareable(deps.store.location)) return runJob(deps.store.location, { kind: 'report', portal, options });
    const r = await buildReport(deps.store, portal, options);
    return 'error' in r ? r : { html: r.html, contacts: r.data.contacts };
  };
  const buildOnce = (portal: string, key: string): Promise<Built> => {
    const running = building.get(portal);
    if (running !== undefined && running.key === key) return running.done;
    const done = build(portal).finally(() => {
      if (building.get(portal)?.done === done) building.delete(portal);
    });
    building.set(portal, { key, done });
    return done;
  };

  app.get('/', async (c) => {
    if (deps.allowRemote !== true && !isLoopback(c)) return c.html(messagePage('Forbidden', 'The report only answers local clients.'), 403);
    const q = querySchema.safeParse({ portal: c.req.query('portal') ?? '' });
    if (!q.success) return c.html(messagePage('Which portal?', portalHint((await deps.store.portals.list()).map((p) => p.portal))), 400);
    const portal = q.data.portal;
    const s = await deps.store.scores.state(portal);
    const key = `${s.count}|${s.lastScoredAt ?? ''}|${s.lastTrainedAt ?? ''}`;
    const hit = cache.get(portal);
    if (hit !== undefined && hit.key === key) return c.html(hit.html, 200, { 'Cache-Control': 'no-store' });
    const started = performance.now();
    const r = await buildOnce(portal, key);
    if ('error' in r) return c.html(messagePage('No report yet', r.message), 404);
    cache.set(portal, { key, html: r.html });
    log.info({ portal, ms: Math.round(performance.now() - started), contacts: r.contacts }, 'report built');
    return c.html(r.html, 200, { 'Cache-Control': 'no-store' });
  });
  return app;
}
