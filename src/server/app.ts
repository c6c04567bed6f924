import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import type { Registry as MetricsRegistry } from 'prom-client';
import { providerSettings, type Config } from '../config.ts';
import type { FetchFn, PortalStatus } from '../connectors/provider.ts';
import { defaultRegistry, type Registry } from '../connectors/registry.ts';
import type { ObjectType } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { Portal, Store } from '../store/index.ts';
import { createCardRoutes } from './cards.ts';
import { createMetricsRegistry, registerServerMetrics, renderMetrics } from './metrics.ts';
import { createOAuthRoutes } from './oauth-routes.ts';
import { operatorGuard } from './operator.ts';
import { createPreviewRoutes } from './preview.ts';
import { createRescores } from './rescores.ts';
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
  /** the process's portal-state cache for the webhook receivers (createRapport's); without it, a store read per delivery */
  portalStatus?: PortalStatus;
  /** the process's metrics registry (the daemon's families in it); a fresh one when omitted (tests) */
  metrics?: MetricsRegistry;
  /** the CRMs (default: the product's) */
  providers?: Registry;
  /** for tests: the fetch used to call the CRMs' OAuth token endpoints */
  fetch?: FetchFn;
};

/** The public listener's app (what the CRMs and browsers on the internet reach); see createApps. */
export async function createApp(deps: AppDeps): Promise<Hono> {
  return (await createApps(deps)).app;
}

/**
 * The HTTP surface (ARCHITECTURE §2 server/), as two apps for two listeners:
 * - `app`, public (usually behind a TLS proxy): webhooks, OAuth install, the signed card API,
 *   `/healthz`, and `/metrics` only with RAPPORT_METRICS_TOKEN as a bearer token;
 * - `operator`, for a loopback-only listener (RAPPORT_OPERATOR_PORT): the unauthenticated card
 *   preview and report, and `/metrics`, behind a Host allowlist and a same-origin check on POSTs.
 * Nothing unauthenticated is on the public one: a same-host proxy connects from 127.0.0.1, so
 * "loopback peer" says nothing about who is behind it (docs/operations.md "Security").
 */
export async function createApps(deps: AppDeps): Promise<{ app: Hono; operator: Hono }> {
  await assertTokensReadable(deps.store, deps.config);
  const log = deps.logger.child({ component: 'http' });
  const app = new Hono();
  const providers = deps.providers ?? defaultRegistry;
  const install = createOAuthRoutes({ ...deps, providers });
  // one limit for the card's and the preview's "Rescore now"
  const rescores = createRescores({ rescore: deps.rescore, now: deps.now, logger: deps.logger });

  // each CRM's change notifications at /webhooks/<crm>; every method reaches the handler, which
  // answers 405 itself (a 404 would be misleading)
  const receivers = providers.list().flatMap((p) => {
    if (p.notifications === undefined) return [];
    const receiver = p.notifications.create(providerSettings(deps.config, p), {
      store: deps.store,
      publicUrl: deps.config.publicUrl,
      now: deps.now,
      ...(deps.portalStatus === undefined ? {} : { portalStatus: deps.portalStatus }),
      nudge: deps.nudge,
      ...(deps.refresh === undefined ? {} : { refresh: deps.refresh }),
      logger: deps.logger,
    });
    app.all(`/webhooks/${p.name}`, (c) => receiver.handle(c));
    return [{ crm: p.name, stats: receiver.stats }];
  });
  app.route('/oauth', install.app);
  // the CRM card's API (requests signed by the CRM that shows the card) and the local preview page (loopback only)
  const cardCrm = providers.list().find((p) => p.cardRequestAuth !== undefined);
  app.route(
    '/api/cards',
    createCardRoutes({
      store: deps.store,
      auth: cardCrm?.cardRequestAuth?.(providerSettings(deps.config, cardCrm), { publicUrl: deps.config.publicUrl, now: deps.now }),
      now: deps.now,
      rescore: deps.rescore,
      rescores,
      logger: deps.logger,
    }),
  );

  const healthz = async (c: Context) => {
    let portals: Portal[];
    try {
      await deps.store.ping();
      portals = await deps.store.portals.list();
    } catch {
      return c.json({ ok: false, db: 'unavailable' }, 503);
    }
    return c.json({
      ok: true,
      db: 'ok',
      portals: { connected: portals.filter((p) => p.status === 'connected').length, disconnected: portals.filter((p) => p.status !== 'connected').length },
    });
  };
  app.get('/healthz', healthz);

  const registry = deps.metrics ?? createMetricsRegistry();
  registerServerMetrics(registry, {
    store: deps.store,
    now: deps.now,
    receivers: () => receivers.map((r) => ({ crm: r.crm, ...r.stats() })),
    installs: () => Object.entries(install.installs()).map(([crm, n]) => ({ crm, ...n })),
  });
  const metrics = async (c: Context) => {
    const { body, contentType } = await renderMetrics(registry);
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  };
  // portal ids and traffic figures: public only to a Prometheus holding the token
  if (deps.config.metricsToken !== undefined) app.get('/metrics', bearerAuth({ token: deps.config.metricsToken }), metrics);

  const operator = new Hono();
  operator.use('*', operatorGuard());
  operator.get('/healthz', healthz);
  operator.get('/metrics', metrics);
  operator.route('/preview', createPreviewRoutes({ store: deps.store, now: deps.now, rescore: deps.rescore, rescores, logger: deps.logger, card: providers.list().find((p) => p.cardPreview !== undefined)?.cardPreview }));
  operator.route('/report', createReportRoutes({ store: deps.store, logger: deps.logger }));

  for (const a of [app, operator]) {
    a.notFound((c) => c.json({ error: 'not_found' }, 404));
    a.onError((err, c) => {
      if (err instanceof HTTPException) return err.getResponse();
      log.error({ err: err.message, path: c.req.path }, 'request failed');
      return c.json({ error: 'internal' }, 500);
    });
  }
  return { app, operator };
}
