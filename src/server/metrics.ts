import { CHANGE_STREAM_CURSOR } from '../connectors/provider.ts';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Store } from '../store/index.ts';

/**
 * `/metrics` through prom-client (https://github.com/siimon/prom-client): ONE registry per
 * process, its default process metrics, and gauges/counters that read their values when
 * Prometheus scrapes (`collect`), so nothing here keeps a second copy of the store's numbers.
 * prom-client refuses a second metric of the same name, so every family is declared once.
 * The daemon registers its own families (API calls, scoring latency) in src/sync/daemon-metrics.ts.
 */

/** What a notification receiver has counted since start, under the provider's name. */
export type ReceiverCounts = {
  crm: string;
  deliveries: number;
  rejected: Partial<Record<string, number>>;
  outcomes: Partial<Record<string, number>>;
};

/** OAuth install callbacks of one provider. */
export type InstallCounts = { crm: string; ok: number; failed: number };

export type ServerMetricsSources = {
  store: Pick<Store, 'portals' | 'outbox' | 'dirty' | 'cursors' | 'syncRuns'>;
  now: () => number;
  receivers: () => readonly ReceiverCounts[];
  installs: () => readonly InstallCounts[];
};

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The Prometheus text exposition (format 0.0.4) of everything registered. */
export async function renderMetrics(registry: Registry): Promise<{ body: string; contentType: string }> {
  return { body: await registry.metrics(), contentType: registry.contentType };
}

/**
 * A counter whose value is read at scrape time from a running total kept elsewhere (the
 * receiver's and the install routes' own counts): reset, then set each series to the total.
 */
function countedAtScrape<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => readonly { labels: Record<L, string>; value: number }[],
): void {
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.inc(s.labels, s.value);
    },
  });
}

/** Portals, sync lag, outbox backlog, dirty contacts, webhook traffic and installs. */
export function registerServerMetrics(registry: Registry, src: ServerMetricsSources): void {
  const { store } = src;
  new Gauge({
    name: 'rapport_portal_connected',
    help: 'Installed portals: 1 connected, 0 disconnected',
    labelNames: ['portal', 'crm'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of await store.portals.list()) this.set({ portal: p.portal, crm: p.crm }, p.status === 'connected' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rapport_sync_lag_seconds',
    help: 'Seconds since each stream was last known current (its last committed page or clean run)',
    labelNames: ['portal', 'crm', 'stream'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const now = src.now();
      for (const p of await store.portals.list()) {
        const last = new Map<string, number>();
        // a change stream's row is its replay position, not a record stream: a quiet org would look ever more behind
        for (const c of await store.cursors.list(p.portal)) if (c.stream !== CHANGE_STREAM_CURSOR) last.set(c.stream, c.updatedAt);
        for (const r of await store.syncRuns.latestPerStream(p.portal)) {
          if (r.status === 'ok' && r.finishedAt !== null) last.set(r.stream, Math.max(last.get(r.stream) ?? 0, r.finishedAt));
        }
        for (const [stream, at] of last) this.set({ portal: p.portal, crm: p.crm, stream }, Math.max(0, (now - at) / 1000));
      }
    },
  });
  new Gauge({
    name: 'rapport_outbox_backlog',
    help: 'Score writes in the outbox: pending (waiting to be sent) or parked (given up after retries, see rapport status)',
    labelNames: ['portal', 'crm', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of await store.portals.list()) {
        const s = await store.outbox.stats(p.portal);
        this.set({ portal: p.portal, crm: p.crm, status: 'pending' }, s.pending);
        this.set({ portal: p.portal, crm: p.crm, status: 'parked' }, s.parked);
      }
    },
  });
  new Gauge({
    name: 'rapport_dirty_contacts',
    help: 'Contacts waiting to be scored (every live contact of a portal installed anew, until its first full pass ends)',
    labelNames: ['portal', 'crm'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of await store.portals.list()) this.set({ portal: p.portal, crm: p.crm }, await store.dirty.count(p.portal));
    },
  });
  countedAtScrape(registry, 'rapport_webhook_deliveries_total', 'Webhook deliveries accepted', ['crm'], () =>
    src.receivers().map((r) => ({ labels: { crm: r.crm }, value: r.deliveries })),
  );
  countedAtScrape(registry, 'rapport_webhook_rejections_total', 'Webhook deliveries rejected, by reason', ['crm', 'reason'], () =>
    src.receivers().flatMap((r) => Object.entries(r.rejected).map(([reason, n]) => ({ labels: { crm: r.crm, reason }, value: n ?? 0 }))),
  );
  countedAtScrape(registry, 'rapport_webhook_events_total', 'Webhook events in accepted deliveries, by outcome', ['crm', 'outcome'], () =>
    src.receivers().flatMap((r) => Object.entries(r.outcomes).map(([outcome, n]) => ({ labels: { crm: r.crm, outcome }, value: n ?? 0 }))),
  );
  countedAtScrape(registry, 'rapport_oauth_installs_total', 'OAuth install callbacks, by result', ['crm', 'result'], () =>
    src.installs().flatMap((i) => [
      { labels: { crm: i.crm, result: 'ok' }, value: i.ok },
      { labels: { crm: i.crm, result: 'failed' }, value: i.failed },
    ]),
  );
}
