import { Counter, Histogram, type Registry } from 'prom-client';
import type { Store } from '../store/index.ts';

/** What a connector has counted since it was created (connectors that count expose `stats`). */
export type ConnectorCounts = { calls: number; rateLimited: number; retries: number };

export type DaemonMetrics = {
  /** one scoring pass over a portal's dirty contacts took `seconds` */
  observeScoring(seconds: number): void;
};

/**
 * The daemon's families in the process registry (src/server/metrics.ts): per-portal API calls and
 * 429 answers, read from the connectors at scrape time, and scoring latency as a histogram.
 * The `crm` label is the portal row's CRM, so no CRM is named here.
 */
export function registerDaemonMetrics(
  registry: Registry,
  src: { store: Pick<Store, 'portals'>; connectors: () => Iterable<readonly [string, { stats?: () => ConnectorCounts }]> },
): DaemonMetrics {
  const perPortal = async (pick: (s: ConnectorCounts) => number) => {
    const crmOf = new Map((await src.store.portals.list()).map((p) => [p.portal, p.crm as string]));
    const out: { labels: { portal: string; crm: string }; value: number }[] = [];
    for (const [portal, c] of src.connectors()) {
      const s = c.stats?.();
      if (s !== undefined) out.push({ labels: { portal, crm: crmOf.get(portal) ?? 'unknown' }, value: pick(s) });
    }
    return out;
  };
  for (const [name, help, pick] of [
    ['rapport_api_calls_total', 'CRM API calls made, per portal', (s: ConnectorCounts) => s.calls],
    ['rapport_api_429_total', '429 (rate limited) answers received, per portal', (s: ConnectorCounts) => s.rateLimited],
  ] as const) {
    new Counter({
      name,
      help,
      labelNames: ['portal', 'crm'] as const,
      registers: [registry],
      async collect() {
        const series = await perPortal(pick);
        this.reset();
        for (const s of series) this.inc(s.labels, s.value);
      },
    });
  }
  const scoring = new Histogram({
    name: 'rapport_scoring_seconds',
    help: 'Time spent scoring one portal’s dirty contacts (per pass, all portals)',
    // a pass over a few dirty contacts takes milliseconds; a full rescore of 20,000 a few seconds
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return { observeScoring: (seconds) => scoring.observe(seconds) };
}
