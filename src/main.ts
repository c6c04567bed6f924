import { providerSettings, type Config } from './config.ts';
import type { ChangeStream, ConnectorAuth, CrmProvider, Installation, ProviderContext } from './connectors/provider.ts';
import { defaultRegistry, type Registry } from './connectors/registry.ts';
import type { CrmConnector, ObjectType } from './connectors/types.ts';
import { CrmError } from './errors.ts';
import type { Logger } from './log.ts';
import { churnDefinitionFor } from './scoring/churn-definition.ts';
import { createPortalScoring } from './scoring/portal-scoring.ts';
import { scoreContacts } from './scoring/score-portal.ts';
import { createApps } from './server/app.ts';
import { listenHttp, type Listener } from './server/listen.ts';
import { createMetricsRegistry } from './server/metrics.ts';
import { createPortalStatusCache, forgettingWrites } from './server/portal-status.ts';
import { createTokenManager, tokenUnreadableReason } from './server/tokens.ts';
import { connectStore, type Store, REQUEST_BUSY_TIMEOUT_MS } from './store/index.ts';
import { TokenUnreadableError } from './store/portals.ts';
import { createDaemon, type CycleSummary, type Daemon, type RefreshRequest } from './sync/daemon.ts';
import { registerDaemonMetrics } from './sync/daemon-metrics.ts';
import type { StreamProgress } from './sync/sync-stream.ts';
import { createUsageRecorder } from './sync/usage.ts';

/**
 * The composition root: config → store → connectors → daemon → HTTP server. Everything else
 * receives its dependencies from here; nothing below reads the environment.
 */
export type Rapport = {
  config: Config;
  store: Store;
  logger: Logger;
  daemon: Daemon;
  /**
   * Connects every provider's static connections (e.g. a private-app token) and every installed
   * OAuth portal; returns their ids. Provisions them too, unless `provision` is false: then each
   * portal's first `runPass` in this process provisions it (a worker, whose CRM calls for a portal
   * must stay inside that portal's job: see runPass).
   */
  connectPortals(opts?: { provision?: boolean }): Promise<string[]>;
  /**
   * Connects a portal whose token comes from elsewhere (e.g. a demo's session on an emulated CRM):
   * its provider's connector, registered with the daemon; no tokens are stored.
   */
  addPortal(installation: Installation, auth: ConnectorAuth): Promise<CrmConnector>;
  /** the CRMs this Rapport knows */
  providers: Registry;
  /** called when an OAuth install registers a portal, with its first pass (provision + backfill) */
  onPortalReady(listener: (portal: string, backfill: Promise<void>) => void): void;
  /** the connector of a connected portal */
  connector(portal: string): CrmConnector | undefined;
  /** the portal's change notification subscription, when its provider has one and `changeStreams` is on */
  changeStream(portal: string): ChangeStream | undefined;
  /**
   * Starts an installed portal's change notification subscription owned by the caller (a worker
   * holding the portal's lock, src/work/change-streams.ts), which stops it; each notification calls
   * `nudge`. Undefined when the portal's provider has none or its tokens cannot be read.
   */
  openChangeStream(portal: string, nudge: (types: ObjectType[]) => Promise<void>): Promise<ChangeStream | undefined>;
  /**
   * starts the HTTP server (webhooks, OAuth, card API) and, when RAPPORT_OPERATOR_PORT is set,
   * the loopback operator listener (preview, report, metrics) at `operatorUrl`
   */
  listen(port?: number, host?: string): Promise<{ url: string; operatorUrl?: string }>;
  /**
   * One pass over a portal as a worker runs it (`rapport worker`, a job from the queue): connects
   * the portal if this process has not yet (provisioning a new one), re-reads `refresh` records,
   * syncs every stream, scores and writes back. Throws when the portal cannot run here.
   */
  runPass(portal: string, refresh?: readonly RefreshRequest[]): Promise<CycleSummary>;
  close(): Promise<void>;
};

/**
 * Where the HTTP side sends work (`rapport serve --role web`): a queue that worker processes take
 * it from (src/work/queue.ts), instead of this process's own daemon.
 */
export type Dispatch = { requestSync(portal: string, refresh?: { type: ObjectType; ids: string[] }): Promise<unknown> };

export type RapportOptions = {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** called for every page committed (progress bars) */
  onProgress?: (p: StreamProgress) => void;
  onCycle?: (s: CycleSummary) => void;
  /** an OAuth install registered a portal; `backfill` settles when its provisioning and first sync pass are done */
  onPortalReady?: (portal: string, backfill: Promise<void>) => void;
  /** page size for list calls (tests) */
  pageSize?: number;
  /** the CRMs (default: the product's; a test adds its own); `config` must be loaded with the same */
  providers?: Registry;
  /** web role: webhooks, installs and rescores enqueue passes here; this process syncs nothing */
  dispatch?: Dispatch;
  /**
   * subscribe to each connected portal's change notifications when its provider has them (e.g.
   * Salesforce Change Data Capture): long-running processes (`serve`, `demo`), not one-shot passes
   */
  changeStreams?: boolean;
  /** a worker: its Postgres connections open at start and stay open (PostgresStoreOptions.keepConnectionsOpen) */
  keepConnectionsOpen?: boolean;
};

export async function createRapport(opts: RapportOptions): Promise<Rapport> {
  const { config, logger } = opts;
  const now = opts.now ?? Date.now;
  const providers = opts.providers ?? defaultRegistry;
  const opened = await connectStore(config, {
    encryptionKey: config.encryptionKey,
    previousEncryptionKey: config.previousEncryptionKey,
    now,
    // pg_stat_activity tells the web role's sessions from the others' (docs/operations.md)
    ...(opts.dispatch === undefined ? {} : { applicationName: 'rapport-web' }),
    ...(opts.keepConnectionsOpen === true ? { keepConnectionsOpen: true } : {}),
    // on SQLite this thread answers webhooks and cards: no WAL checkpoint inside its commits
    backgroundCheckpoints: true,
    onCheckpointFailure: (e) => logger.warn({ err: e.message }, 'SQLite checkpoint thread failed; checkpoints run inside commits again'),
  });
  // webhook receivers read a connected portal's state from memory; this process's own portal
  // writes (installs, disconnections by the token manager or the daemon) drop it at once
  const portalStatus = createPortalStatusCache({ portals: opened.portals, now });
  const store: Store = { ...opened, portals: forgettingWrites(opened.portals, portalStatus.forget) };
  let tokens: Awaited<ReturnType<typeof createTokenManager>>;
  try {
    tokens = await createTokenManager({ store, config, now, logger, providers });
  } catch (e) {
    await store.close();
    throw e;
  }
  const connectors = new Map<string, CrmConnector & { stats?: () => { calls: number; rateLimited: number; retries: number } }>();
  // one metrics registry for the process: the daemon's families here, the server's in createApps
  const registry = createMetricsRegistry();
  const daemonMetrics = registerDaemonMetrics(registry, { store, connectors: () => connectors });

  const recordUsage = createUsageRecorder({ store, logger, counts: (portal) => connectors.get(portal)?.stats?.() });
  const daemon = createDaemon({
    store,
    logger,
    now,
    intervalMs: config.syncIntervalMs,
    score: createPortalScoring({
      store,
      logger,
      now,
      churnDefinition: (portal) => churnDefinitionFor(config.churn, portal),
      observe: daemonMetrics.observeScoring,
    }),
    ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
    onCycle: (summary) => {
      void recordUsage(summary.portal);
      opts.onCycle?.(summary);
    },
  });

  const contextOf = (provider: CrmProvider): ProviderContext<unknown> => ({
    settings: providerSettings(config, provider),
    logger,
    now,
    httpTimeoutMs: config.httpTimeoutMs,
    ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize }),
    churnDateProperty: (portal) => churnDefinitionFor(config.churn, portal).signals.churnDateProperty,
  });

  const streams = new Map<string, ChangeStream>();
  function register(portal: string, connector: CrmConnector, link?: { installation: Installation; auth: ConnectorAuth }): void {
    connectors.set(portal, connector);
    const provider = providers.ofPortal(portal);
    const stream =
      opts.changeStreams === true && link !== undefined && provider?.changeStream !== undefined && !streams.has(portal)
        ? provider.changeStream.start(link.installation, link.auth, contextOf(provider), { store, nudge: (types) => daemon.nudge(portal, types) })
        : undefined;
    if (stream !== undefined) streams.set(portal, stream);
    const current = streams.get(portal);
    daemon.addPortal({ portal, connector, ...(current === undefined ? {} : { pollEveryMs: () => current.pollEveryMs() }) });
  }

  /** An OAuth-installed portal's installation, its provider and its auth: tokens from the encrypted store, refreshed by the token manager. */
  async function linkOf(portal: string): Promise<{ provider: CrmProvider; installation: Installation; auth: ConnectorAuth } | undefined> {
    const row = await store.portals.get(portal);
    const provider = row === undefined ? undefined : providers.get(row.crm);
    if (row === undefined || provider === undefined) {
      logger.error({ portal, crm: row?.crm }, 'portal of an unknown CRM: not connected');
      return undefined;
    }
    const installation: Installation = { portal, crm: row.crm, externalId: row.externalId, baseUrl: row.baseUrl, scopes: row.scopes };
    const auth = {
      accessToken: () => tokens.accessToken(portal),
      onUnauthorized: () => tokens.onUnauthorized(portal),
      baseUrl: async () => (await tokens.baseUrl(portal)) ?? installation.baseUrl,
    };
    return { provider, installation, auth };
  }

  /** An OAuth-installed portal: its provider's connector. */
  async function addOAuthPortal(portal: string): Promise<void> {
    const link = await linkOf(portal);
    if (link === undefined) return;
    register(portal, link.provider.createConnector(link.installation, link.auth, contextOf(link.provider)), link);
  }

  /**
   * Whether the portal has tokens this process can decrypt. One that no key reads is marked
   * disconnected ("token unreadable") and skipped; the other portals start as usual.
   */
  async function hasReadableTokens(portal: string, crm: string): Promise<boolean> {
    try {
      return (await store.portals.tokens(portal)) !== undefined;
    } catch (e) {
      if (!(e instanceof TokenUnreadableError)) throw e;
      await store.portals.markDisconnected(portal, tokenUnreadableReason(config.publicUrl, crm));
      logger.error({ portal, code: e.code }, 'portal disconnected: stored token unreadable; the other portals run');
      return false;
    }
  }

  /**
   * Provisions our fields on a portal's first connect in this process, whatever the auth, when
   * its provider says so (`provisionOnConnect`; e.g. a static connection never passes through an
   * install). Idempotent. A failure (e.g. a token without the schema scope) is logged, not fatal:
   * syncing still works, and write-back provisions again when a write is refused for a missing
   * field (sync/write-back.ts).
   */
  async function provisionOnConnect(portal: string): Promise<void> {
    if (providers.ofPortal(portal)?.provisionOnConnect === true) await provisionNow(portal);
  }

  async function provisionNow(portal: string): Promise<void> {
    const connector = connectors.get(portal);
    if (connector === undefined) return;
    try {
      await connector.provision(daemon.signal);
    } catch (e) {
      if (daemon.signal.aborted) return; // shutting down: not a provisioning problem
      logger.error(
        { portal, kind: e instanceof CrmError ? e.kind : 'error', code: e instanceof CrmError ? e.details.code : undefined },
        'provisioning failed; score writes will be parked until it succeeds',
      );
    }
  }

  /** portals connected without provisioning: their next pass in this process provisions them, before it writes back */
  const provisionPending = new Set<string>();

  async function connectPortals({ provision = true }: { provision?: boolean } = {}): Promise<string[]> {
    const ids: string[] = [];
    for (const provider of providers.list()) {
      for (const { installation, connector } of (await provider.staticConnections?.(contextOf(provider))) ?? []) {
        await store.portals.upsert(installation);
        await store.portals.markConnected(installation.portal);
        // a static connection's token lives inside its connector: no change stream
        register(installation.portal, connector);
        ids.push(installation.portal);
      }
    }
    for (const p of await store.portals.list()) {
      if (p.status !== 'connected' || connectors.has(p.portal) || !(await hasReadableTokens(p.portal, p.crm))) continue;
      await addOAuthPortal(p.portal);
      if (connectors.has(p.portal)) ids.push(p.portal);
    }
    for (const portal of ids) {
      if (provision) await provisionOnConnect(portal);
      else if (providers.ofPortal(portal)?.provisionOnConnect === true) provisionPending.add(portal);
    }
    return ids;
  }

  const dispatch = opts.dispatch;
  /** a pass requested from the queue; a failure to enqueue is logged (the periodic pass is the backstop) */
  const enqueue = async (portal: string, refresh?: { type: ObjectType; ids: string[] }): Promise<void> => {
    try {
      await dispatch?.requestSync(portal, refresh);
    } catch (e) {
      logger.error({ portal, err: (e as Error).message }, 'could not enqueue a sync pass; the periodic pass will catch up');
    }
  };

  async function runPass(portal: string, refresh: readonly RefreshRequest[] = []): Promise<CycleSummary> {
    if (!connectors.has(portal)) {
      const row = await store.portals.get(portal);
      if (row === undefined) throw new Error(`portal ${portal} is not installed`);
      if (row.status !== 'connected') throw new Error(`portal ${portal} is disconnected (${row.statusReason ?? 'no reason recorded'}): reinstall it`);
      if (!(await hasReadableTokens(portal, row.crm))) throw new Error(`portal ${portal}: no readable token`);
      await addOAuthPortal(portal);
      if (!connectors.has(portal)) throw new Error(`portal ${portal} of CRM "${row.crm}" has no provider in this build`);
      provisionPending.add(portal); // first pass of this portal in this process: our fields exist before its first write-back
    }
    // Provisioning runs inside the portal's job, and not when the worker starts: the job queue
    // runs one job of a portal at a time in the whole deployment, so the portal's rate limit is
    // counted by the one process calling it (src/connectors/limiter.ts). Provisioning every portal
    // at a worker's start sent calls that a worker running the portal's pass could not count, and
    // the CRM refused that worker's last calls of the window (429). And it runs just before the
    // write-back that needs our fields, not before the sync: a fresh portal's backfill fills its
    // first window by itself, and the calls spent ahead of it would push as many pages past it.
    const beforeWriteBack = async () => {
      if (provisionPending.delete(portal)) await provisionNow(portal);
    };
    return daemon.runOnce(portal, { refresh, beforeWriteBack });
  }

  const listeners: Listener[] = [];
  const readyListeners: ((portal: string, backfill: Promise<void>) => void)[] = [];
  if (opts.onPortalReady !== undefined) readyListeners.push(opts.onPortalReady);

  return {
    config,
    store,
    logger,
    daemon,
    providers,
    connectPortals,
    connector: (portal) => connectors.get(portal),
    changeStream: (portal) => streams.get(portal),
    async openChangeStream(portal, nudge) {
      const row = await store.portals.get(portal);
      if (row === undefined || row.status !== 'connected' || providers.get(row.crm)?.changeStream === undefined || !(await hasReadableTokens(portal, row.crm))) return undefined;
      const link = await linkOf(portal);
      return link?.provider.changeStream?.start(link.installation, link.auth, contextOf(link.provider), { store, nudge });
    },
    async addPortal(installation, auth) {
      const provider = providers.get(installation.crm);
      if (provider === undefined) throw new Error(`no provider named "${installation.crm}"`);
      const connector = provider.createConnector(installation, auth, contextOf(provider));
      await store.portals.upsert(installation);
      await store.portals.markConnected(installation.portal);
      register(installation.portal, connector, { installation, auth });
      return connector;
    },
    onPortalReady(listener) {
      readyListeners.push(listener);
    },
    async listen(port = config.port, host = '127.0.0.1') {
      // better-sqlite3 waits for a lock synchronously: once this process answers HTTP (webhooks
      // have a 5 s deadline), a lock held by `rapport sync/score/train` may stall it only briefly;
      // the statement fails with SQLITE_BUSY instead and the daemon retries on its next pass.
      // Postgres waits asynchronously: nothing stalls, and the daemon here keeps its full wait.
      if (store.location.kind === 'sqlite') await store.setLockTimeout(REQUEST_BUSY_TIMEOUT_MS);
      const { app, operator } = await createApps({
        store,
        config,
        logger,
        now,
        portalStatus,
        nudge: (portal: string, types: ObjectType[]) => void (dispatch === undefined ? daemon.nudge(portal, types) : enqueue(portal)),
        refresh: (portal: string, type: ObjectType, ids: string[]) => void (dispatch === undefined ? daemon.refresh(portal, type, ids) : enqueue(portal, { type, ids })),
        onInstalled: (portal: string) => {
          if (dispatch !== undefined) {
            // a worker connects, provisions and backfills it (runPass)
            const backfill = enqueue(portal);
            for (const l of readyListeners) l(portal, backfill);
            return;
          }
          if (connectors.has(portal)) {
            // Reinstalled (new tokens): the token manager reads them from the store; just catch up.
            void daemon.nudge(portal);
            return;
          }
          const backfill = (async () => {
            try {
              await addOAuthPortal(portal);
            } catch (e) {
              logger.error({ portal, err: (e as Error).message }, 'connecting the installed portal failed');
              return;
            }
            await provisionNow(portal);
            await daemon.nudge(portal);
          })();
          for (const l of readyListeners) l(portal, backfill);
        },
        rescore: async (portal: string, contactId: string) => {
          await scoreContacts(store, portal, { contactIds: [contactId], now: now(), logger });
          if (dispatch !== undefined) return void (await enqueue(portal)); // a worker writes it back
          const c = connectors.get(portal);
          if (c !== undefined) await daemon.nudge(portal, []);
        },
        metrics: registry,
        providers,
      });
      const limits = { requestTimeoutMs: config.server.requestTimeoutMs, maxConnections: config.server.maxConnections };
      const main = await listenHttp(app.fetch, { port, host, ...limits });
      listeners.push(main);
      if (config.operatorPort === undefined) return { url: main.url };
      // loopback only, whatever --host says: these routes have no authentication of their own
      const op = await listenHttp(operator.fetch, { port: config.operatorPort, host: '127.0.0.1', ...limits });
      listeners.push(op);
      return { url: main.url, operatorUrl: op.url };
    },
    runPass,
    async close() {
      // subscriptions stop taking events now, and store their position once the passes they
      // nudged are over (the daemon ends them), before the store closes
      const stopping = Promise.all([...streams.values()].map((s) => s.stop()));
      streams.clear();
      await daemon.stop();
      await stopping;
      await Promise.all(listeners.splice(0).map((l) => l.close()));
      await store.close();
    },
  };
}
