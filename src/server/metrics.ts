import type { Store } from '../store/index.ts';
import type { NotificationStats } from '../connectors/provider.ts';

/**
 * Prometheus text exposition (format 0.0.4) of what the server can see: portals, sync lag,
 * outbox backlog, dirty contacts, webhook traffic and installs. The daemon appends its own
 * lines (API calls, 429s, scoring latency) through `deps.metrics()`.
 */

type Sample = { labels?: Record<string, string>; value: number };
type Family = { name: string; help: string; type: 'counter' | 'gauge'; samples: Sample[] };

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function renderFamilies(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels === undefined ? '' : `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
      out.push(`${f.name}${labels} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return out.join('\n') + '\n';
}

export async function serverMetrics(o: {
  store: Pick<Store, 'portals' | 'outbox' | 'dirty' | 'cursors' | 'syncRuns'>;
  now: number;
  webhooks: NotificationStats;
  installs: { ok: number; failed: number };
}): Promise<string> {
  const portals = await o.store.portals.list();
  const lag: Sample[] = [];
  const backlog: Sample[] = [];
  const parked: Sample[] = [];
  const dirty: Sample[] = [];
  const connected: Sample[] = [];
  for (const p of portals) {
    connected.push({ labels: { portal: p.portal }, value: p.status === 'connected' ? 1 : 0 });
    const ob = await o.store.outbox.stats(p.portal);
    backlog.push({ labels: { portal: p.portal }, value: ob.pending });
    parked.push({ labels: { portal: p.portal }, value: ob.parked });
    dirty.push({ labels: { portal: p.portal }, value: await o.store.dirty.count(p.portal) });
    // lag = time since the stream was last known current: its last committed page or clean run
    const last = new Map<string, number>();
    for (const c of await o.store.cursors.list(p.portal)) last.set(c.stream, c.updatedAt);
    for (const r of await o.store.syncRuns.latestPerStream(p.portal)) {
      if (r.status === 'ok' && r.finishedAt !== null) last.set(r.stream, Math.max(last.get(r.stream) ?? 0, r.finishedAt));
    }
    for (const [stream, at] of last) lag.push({ labels: { portal: p.portal, stream }, value: Math.max(0, (o.now - at) / 1000) });
  }
  const w = o.webhooks;
  return renderFamilies([
    { name: 'rapport_portal_connected', help: 'Installed portals: 1 connected, 0 disconnected', type: 'gauge', samples: connected },
    { name: 'rapport_sync_lag_seconds', help: 'Seconds since each stream was last synced', type: 'gauge', samples: lag },
    { name: 'rapport_outbox_pending', help: 'Score writes waiting to be sent to the CRM', type: 'gauge', samples: backlog },
    { name: 'rapport_outbox_parked', help: 'Score writes given up after retries (see rapport status)', type: 'gauge', samples: parked },
    { name: 'rapport_dirty_contacts', help: 'Contacts waiting to be rescored', type: 'gauge', samples: dirty },
    { name: 'rapport_webhook_deliveries_total', help: 'Webhook deliveries accepted', type: 'counter', samples: [{ labels: { crm: 'hubspot' }, value: w.deliveries }] },
    {
      name: 'rapport_webhook_rejections_total',
      help: 'Webhook deliveries rejected, by reason',
      type: 'counter',
      samples: Object.entries(w.rejected).map(([reason, n]) => ({ labels: { crm: 'hubspot', reason }, value: n ?? 0 })),
    },
    {
      name: 'rapport_webhook_events_total',
      help: 'Webhook events in accepted deliveries, by outcome',
      type: 'counter',
      samples: Object.entries(w.outcomes).map(([outcome, n]) => ({ labels: { crm: 'hubspot', outcome }, value: n ?? 0 })),
    },
    {
      name: 'rapport_oauth_installs_total',
      help: 'OAuth install callbacks, by result',
      type: 'counter',
      samples: [
        { labels: { crm: 'hubspot', result: 'ok' }, value: o.installs.ok },
        { labels: { crm: 'hubspot', result: 'failed' }, value: o.installs.failed },
      ],
    },
  ]);
}
