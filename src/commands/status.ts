import { loadConfig } from '../config.ts';
import { CHANGE_STREAM_CURSOR } from '../connectors/provider.ts';
import { readStoredChangeStream, type StoredChangeStream } from '../connectors/stored-change-stream.ts';
import { defaultRegistry } from '../connectors/registry.ts';
import { EXIT } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { connectStore, type Store } from '../store/index.ts';
import { createJobQueue, type FailedJob, type JobQueue } from '../work/queue.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';

const USAGE = `Usage: rapport status [--json] [--portal PORTAL]

Shows, per installed portal: connection state, per-stream cursor time, lag and last error,
outbox backlog and parked write failures, and the current model versions with their metrics.

Options:
  --json           machine-readable output
  --portal PORTAL  only this portal (e.g. hubspot:12345678)
  -h, --help       this help
`;

export type PortalStatusReport = {
  portal: string;
  crm: string;
  status: string;
  statusReason: string | null;
  records: Record<string, { live: number; deleted: number }>;
  streams: {
    stream: string;
    lastRun: string | null;
    lastRunStatus: string | null;
    lagSeconds: number | null;
    records: number;
    lastError: string | null;
    /** how far behind the CRM the stream may be and why (the provider reads its cursor); null = nothing to say */
    freshness: { maxBehindSeconds: number | null; lastFullReadAt: string | null; nextFullReadAt: string | null; note: string } | null;
  }[];
  /** CRM API calls in the last 10 minutes against the configured limit */
  apiUsage: { calls10m: number; rateLimited10m: number; peakPerMinute: number; limitPer10s: number; peakShareOfLimit: number; calls24h: number };
  scored: number;
  dirty: number;
  outbox: { pending: number; parked: number };
  parked: { contactId: string; attempts: number; lastError: string | null }[];
  /** every parked write grouped by reason (error kind and CRM code) */
  parkedReasons: { reason: string; count: number }[];
  /**
   * the portal's change notification subscription (e.g. Salesforce CDC) as `serve` last stored it:
   * state, position (replay id), counters, how often every stream is still polled; null when none ran
   */
  changeNotifications: (StoredChangeStream & { updatedAt: string }) | null;
  /** the current version of each model; `earlierVersions` are kept with their metrics (store.models.versions) */
  models: Record<string, { version: string; trainedAt: string; metrics: unknown; earlierVersions: number } | null>;
};

export async function collectStatus(store: Store, only?: string, limitPer10s = 110): Promise<PortalStatusReport[]> {
  const now = store.now();
  const out: PortalStatusReport[] = [];
  for (const p of await store.portals.list()) {
    if (only !== undefined && p.portal !== only) continue;
    const cursors = new Map((await store.cursors.list(p.portal)).map((c) => [c.stream, c]));
    const runs = await store.syncRuns.latestPerStream(p.portal);
    const hints = defaultRegistry.get(p.crm)?.hints;
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const changeRow = cursors.get(CHANGE_STREAM_CURSOR);
    cursors.delete(CHANGE_STREAM_CURSOR);
    const change = readStoredChangeStream(changeRow?.cursor);
    const streams = runs.map((r) => {
      const cursor = cursors.get(r.stream);
      const f = cursor === undefined ? undefined : hints?.freshness?.(cursor.cursor, now);
      const okAt = r.status === 'ok' ? r.finishedAt : (cursor?.updatedAt ?? null);
      return {
        stream: r.stream,
        lastRun: new Date(r.startedAt).toISOString(),
        lastRunStatus: r.status,
        lagSeconds: okAt === null ? null : Math.round((now - okAt) / 1000),
        records: r.records,
        lastError: r.error === null ? null : `${r.errorKind ?? 'error'}: ${r.error}`,
        freshness:
          f === undefined
            ? null
            : { maxBehindSeconds: f.maxBehindMs === null ? null : Math.round(f.maxBehindMs / 1000), lastFullReadAt: iso(f.lastFullReadAt), nextFullReadAt: iso(f.nextFullReadAt), note: f.note },
      };
    });
    const models: PortalStatusReport['models'] = {};
    for (const kind of ['churn', 'service_need']) {
      const m = await store.models.latest(p.portal, kind);
      const earlierVersions = (await store.models.versions(p.portal, kind)).length - 1;
      models[kind] = m === undefined ? null : { version: m.version, trainedAt: new Date(m.trainedAt).toISOString(), metrics: m.metrics, earlierVersions };
    }
    const u = await store.apiUsage.since(p.portal, 10 * 60_000);
    out.push({
      portal: p.portal,
      crm: p.crm,
      status: p.status,
      statusReason: p.statusReason,
      records: await store.records.counts(p.portal),
      streams,
      apiUsage: {
        calls10m: u.calls,
        rateLimited10m: u.rateLimited,
        peakPerMinute: u.peakPerMinute,
        limitPer10s,
        // the busiest minute as a share of what the limit allows in a minute (6 windows)
        peakShareOfLimit: Number((u.peakPerMinute / (limitPer10s * 6)).toFixed(3)),
        // for CRMs that budget calls per rolling 24 h
        calls24h: (await store.apiUsage.since(p.portal, 86_400_000)).calls,
      },
      scored: await store.scores.count(p.portal),
      dirty: await store.dirty.count(p.portal),
      outbox: await store.outbox.stats(p.portal),
      parked: (await store.outbox.parked(p.portal, 5)).map(({ contactId, attempts, lastError }) => ({ contactId, attempts, lastError })),
      parkedReasons: await store.outbox.parkedReasons(p.portal),
      changeNotifications: change !== undefined && changeRow !== undefined ? { ...change, updatedAt: new Date(changeRow.updatedAt).toISOString() } : null,
      models,
    });
  }
  return out;
}

/** The held-out metrics an operator reads first, in words; everything else is in --json. */
export function metricsLine(metrics: unknown): string {
  const m = (metrics ?? {}) as Record<string, unknown>;
  const num = (k: string, digits = 3) => (typeof m[k] === 'number' ? (m[k] as number).toFixed(digits) : '-');
  return `ROC AUC ${num('auc')}, PR AUC ${num('pr_auc')}, Brier ${num('brier')}, ECE ${num('ece')}, lift@10% ${num('lift_top10', 2)} (test n ${num('test_n', 0)}, positives ${num('test_positives', 0)})`;
}

type PortalJobs = { queued: number; active: number; failed: FailedJob[] } | { unavailable: string };

/**
 * With several processes (Postgres), each portal's passes in the job queue: queued, running, and
 * the dead-letter view of passes out of retries with their reason (src/work/queue.ts).
 */
async function addJobs(url: string, reports: (PortalStatusReport & { jobs?: PortalJobs })[]): Promise<void> {
  let queue: JobQueue | undefined;
  try {
    queue = await createJobQueue({ url, logger: silentLogger, readOnly: true });
    for (const r of reports) r.jobs = await queue.portalJobs(r.portal);
  } catch (e) {
    // no worker has ever started: the queue's schema does not exist yet
    for (const r of reports) r.jobs = { unavailable: `job queue not readable (${(e as Error).message}); it is created when \`rapport worker\` or \`serve --role web\` first starts` };
  } finally {
    await queue?.stop(1_000).catch(() => {});
  }
}

function renderJobs(j: PortalJobs | undefined): string[] {
  if (j === undefined) return [];
  if ('unavailable' in j) return [`  job queue: ${j.unavailable}`];
  const lines = [`  job queue: ${j.queued} pass${j.queued === 1 ? '' : 'es'} queued, ${j.active} running; ${j.failed.length} failed after every retry`];
  for (const f of j.failed.slice(0, 5)) lines.push(`    failed ${new Date(f.failedAt).toISOString()}: ${f.error ?? 'no reason recorded'}`);
  return lines;
}

export function renderHuman(reports: (PortalStatusReport & { jobs?: PortalJobs })[]): string {
  if (reports.length === 0) return 'No portal installed yet. Run `rapport sync --once` with HUBSPOT_ACCESS_TOKEN, or install the app (see README).\n';
  const out: string[] = [];
  for (const r of reports) {
    out.push(`${r.portal}  ${r.status.toUpperCase()}${r.statusReason ? ` (${r.statusReason})` : ''}`);
    out.push(`  scored contacts: ${r.scored}   waiting to be scored: ${r.dirty}   outbox: ${r.outbox.pending} pending, ${r.outbox.parked} parked`);
    out.push(...renderJobs(r.jobs));
    const u = r.apiUsage;
    // each CRM words its usage against its own kind of limit (its provider's hints)
    out.push(`  ${defaultRegistry.get(r.crm)?.hints.usage?.(u) ?? `API (last 10 min): ${u.calls10m} calls, ${u.rateLimited10m} answered 429`}`);
    const cn = r.changeNotifications;
    if (cn !== null) {
      const polling = cn.state === 'live' ? `every stream still polled every ${Math.round(cn.pollEveryMs / 60_000)} min` : 'streams polled at the usual interval meanwhile';
      out.push(
        `  change notifications: ${cn.state} (as of ${cn.updatedAt}; position ${cn.position ?? '-'}; ${cn.events} events, ${cn.echoes} own writes dropped, ${cn.gaps} gap, ${cn.overflows} overflow)${cn.lastError === null ? '' : `, last error: ${cn.lastError}`}; ${polling}`,
      );
    }
    out.push('  stream                 records   last run                  status   lag      last error');
    for (const s of r.streams) {
      const live = r.records[s.stream]?.live ?? 0;
      const lag = s.lagSeconds === null ? '-' : s.lagSeconds < 120 ? `${s.lagSeconds}s` : `${Math.round(s.lagSeconds / 60)}m`;
      out.push(
        `  ${s.stream.padEnd(22)} ${String(live).padStart(7)}   ${(s.lastRun ?? '-').padEnd(24)}  ${(s.lastRunStatus ?? '-').padEnd(7)}  ${lag.padEnd(7)}  ${s.lastError ?? ''}`,
      );
    }
    // the stream that may be furthest behind the CRM, and why (e.g. HubSpot's search index lag)
    const behind = r.streams
      .filter((s) => s.freshness !== null)
      .sort((a, b) => (b.freshness?.maxBehindSeconds ?? -1) - (a.freshness?.maxBehindSeconds ?? -1))[0];
    if (behind?.freshness != null) {
      const f = behind.freshness;
      const b = f.maxBehindSeconds;
      const upTo = b === null ? '' : ` up to ${b < 120 ? `${b}s` : b < 7_200 ? `${Math.round(b / 60)}m` : `${(b / 3_600).toFixed(1)}h`}`;
      out.push(`  behind the CRM:${upTo} (${behind.stream}): ${f.note}`);
    }
    if (r.outbox.parked > 0) {
      const reasons = r.parkedReasons.map((p) => `${p.count} × ${p.reason}`).join(', ');
      out.push(`  parked writes: ${reasons}; once the cause is fixed, re-queue them with \`rapport outbox retry --portal ${r.portal}\``);
    }
    for (const p of r.parked) out.push(`  parked write: contact ${p.contactId} after ${p.attempts} attempts: ${p.lastError ?? 'unknown error'}`);
    for (const [kind, m] of Object.entries(r.models)) {
      const kept = m === null || m.earlierVersions === 0 ? '' : `; ${m.earlierVersions} earlier version${m.earlierVersions === 1 ? '' : 's'} kept`;
      out.push(`  model ${kind}: ${m === null ? 'not trained (cold-start model in use)' : `${m.version} trained ${m.trainedAt}: ${metricsLine(m.metrics)}${kept}`}`);
    }
    out.push('');
  }
  return out.join('\n');
}

export const command: Command = {
  name: 'status',
  summary: 'Show portals, streams, lag, outbox and models',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, { json: { type: 'boolean' }, portal: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    const store = await connectStore(config, { encryptionKey: config.encryptionKey });
    try {
      const reports: (PortalStatusReport & { jobs?: PortalJobs })[] = await collectStatus(store, values.portal, config.hubspot.rateLimitPer10s);
      if (config.databaseUrl !== undefined) await addJobs(config.databaseUrl, reports);
      io.stdout(values.json === true ? JSON.stringify(reports, null, 2) + '\n' : renderHuman(reports));
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
