import { Hono } from 'hono';
import type { Config } from '../config.ts';
import type { FetchFn } from '../connectors/hubspot/oauth.ts';
import type { ObjectType } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { createHubspotWebhookHandler } from '../webhooks/hubspot.ts';
import { createCardRoutes } from './cards.ts';
import { createInstallRoutes } from './install.ts';
import { createSalesforceInstallRoutes } from './install-salesforce.ts';
import { serverMetrics } from './metrics.ts';
import { createPreviewRoutes } from './preview.ts';
import { assertTokensReadable } from './tokens.ts';
import { createReportRoutes } from '../report/routes.ts';

export type AppDeps = {
  store: Store;
  config: Config;
  logger: Logger;
  now(): number;
  /** the daemon's nudge: sync these streams of this portal soon */
  nudge(portal: string, types: ObjectType[]): void;
  /** the daemon's refresh: re-read these records directly (association-change webhooks) */
  refresh?(portal: string, type: ObjectType, ids: string[]): void;
  /** a portal was just installed: provision and start its backfill */
  onInstalled(portal: string): void;
  /** for the card's "Rescore now" */
  rescore(portal: string, contactId: string): Promise<void>;
  /** extra Prometheus lines from the daemon */
  metrics(): string;
  /** for tests: the fetch used to call HubSpot OAuth */
  fetch?: FetchFn;
};

const sumInstalls = (a: { ok: number; failed: number }, b: { ok: number; failed: number }) => ({ ok: a.ok + b.ok, failed: a.failed + b.failed });

/** The HTTP surface (ARCHITECTURE §2 server/): webhooks, OAuth install, health and metrics. */
export function createApp(deps: AppDeps): Hono {
  assertTokensReadable(deps.store, deps.config);
  const log = deps.logger.child({ component: 'http' });
  const app = new Hono();
  const webhooks = createHubspotWebhookHandler({
    store: deps.store,
    clientSecret: deps.config.hubspot.clientSecret,
    appId: deps.config.hubspot.appId,
    publicUrl: deps.config.publicUrl,
    now: deps.now,
    nudge: deps.nudge,
    ...(deps.refresh === undefined ? {} : { refresh: deps.refresh }),
    logger: deps.logger,
  });
  const install = createInstallRoutes(deps);
  const salesforceInstall = createSalesforceInstallRoutes(deps);

  // every method reaches the handler, which answers 405 itself (a 404 would be misleading)
  app.all('/webhooks/hubspot', (c) => webhooks.handle(c));
  app.route('/oauth/hubspot', install.app);
  app.route('/oauth/salesforce', salesforceInstall.app);
  // the CRM card's API (signed by HubSpot) and the local preview page (loopback only)
  app.route(
    '/api/cards',
    createCardRoutes({
      store: deps.store,
      clientSecret: deps.config.hubspot.clientSecret,
      now: deps.now,
      rescore: deps.rescore,
      logger: deps.logger,
      publicUrl: deps.config.publicUrl,
    }),
  );
  app.route('/preview', createPreviewRoutes({ store: deps.store, now: deps.now, rescore: deps.rescore, logger: deps.logger }));
  // the portal report (src/report): loopback clients only, like the preview
  app.route('/report', createReportRoutes({ store: deps.store, logger: deps.logger }));

  app.get('/healthz', (c) => {
    try {
      deps.store.db.prepare('SELECT 1').get();
    } catch {
      return c.json({ ok: false, db: 'unavailable' }, 503);
    }
    const portals = deps.store.portals.list();
    return c.json({
      ok: true,
      db: 'ok',
      portals: { connected: portals.filter((p) => p.status === 'connected').length, disconnected: portals.filter((p) => p.status !== 'connected').length },
    });
  });

  app.get('/metrics', (c) => {
    let extra = '';
    try {
      extra = deps.metrics();
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'daemon metrics failed');
    }
    const body = serverMetrics({ store: deps.store, now: deps.now(), webhooks: webhooks.stats(), installs: sumInstalls(install.installs(), salesforceInstall.installs()) }) + extra;
    return c.body(body.endsWith('\n') ? body : body + '\n', 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.notFound((c) => c.json({ error: 'not_found' }, 404));
  app.onError((err, c) => {
    log.error({ err: err.message, path: c.req.path }, 'request failed');
    return c.json({ error: 'internal' }, 500);
  });
  return app;
}
