import { loadConfig } from '../config.ts';
import { OBJECT_TYPES, type CrmConnector, type ObjectType } from '../connectors/types.ts';
import { defaultRegistry, type Registry } from '../connectors/registry.ts';
import { CrmError, EXIT } from '../errors.ts';
import { createLogger, logFileDestination, logFileFor } from '../log.ts';
import { createRapport, type Rapport } from '../main.ts';
import type { CycleSummary } from '../sync/daemon.ts';
import { parseFlags, untilAborted, type CliIo, type Command } from './command.ts';
import { createProgressBars } from './progress.ts';

const USAGE = `Usage: rapport sync [--once] [--read-only] [--json] [--streams a,b] [--portal PORTAL]

Pulls the configured CRM account(s) into the local cache: a backfill the first time, then
incremental catch-up from the saved cursors. Resumable: an interrupted sync continues from the
last committed page.

Options:
  --once           one pass over every stream, score what changed, write the scores back,
                   then exit 0 (default: keep syncing every RAPPORT_SYNC_INTERVAL_MS until
                   SIGINT/SIGTERM)
  --read-only      with --once: only pull into the cache; no scoring, no scores written to
                   the CRM
  --json           print a machine-readable summary (no progress bars)
  --streams LIST   only these streams (${OBJECT_TYPES.join(', ')})
  --portal PORTAL  only this portal (e.g. hubspot:12345678)
  -h, --help       this help

On a terminal (without --json) progress bars are drawn and the logs go to a file next to the
database (RAPPORT_DB with .log), named on the first line.

Exit codes: 0 ok, 1 a stream failed, 3 configuration, 4 token rejected, 5 CRM unreachable,
6 missing scopes.
`;

/** Exit code for a CRM error kind, so scripts can tell a bad token from a network problem. */
export function exitCodeFor(e: CrmError): number {
  switch (e.kind) {
    case 'auth':
      return EXIT.auth;
    case 'forbidden':
      return EXIT.forbidden;
    case 'unavailable':
    case 'rate_limited':
      return EXIT.unreachable;
    default:
      return EXIT.failure;
  }
}

/** What went wrong, in words an admin can act on: the answering CRM's own hints (its provider). */
export function explainCrmError(e: CrmError, providers: Registry = defaultRegistry): string {
  // not the CRM's answer: no CRM setting fixes it
  if (e.kind === 'internal') return `an internal error in Rapport, not a CRM problem (${e.message}); the log has its stack: please report it`;
  const provider = providers.get(e.details.crm);
  if (provider !== undefined) return provider.hints.explain(e);
  return `${e.kind}: ${e.message}`;
}

/** Reads (and discards) the first page of each stream; returns the first access problem. */
async function preflight(connector: CrmConnector, types: readonly ObjectType[], signal: AbortSignal): Promise<CrmError | undefined> {
  for (const type of types) {
    const pages = connector.changes(type, null, signal)[Symbol.asyncIterator]();
    try {
      await pages.next();
    } catch (e) {
      if (e instanceof CrmError) return e;
      throw e;
    } finally {
      await pages.return?.();
    }
  }
  return undefined;
}

/** Connects every configured portal; a CRM error becomes a message an admin can act on and its exit code. */
export async function connectOrExplain(rapport: Rapport, name: string, io: CliIo): Promise<string[] | number> {
  try {
    return await rapport.connectPortals();
  } catch (e) {
    if (!(e instanceof CrmError)) throw e;
    io.stderr(`rapport ${name}: ${explainCrmError(e, rapport.providers)}\n`);
    return exitCodeFor(e);
  }
}

export function summarize(cycles: CycleSummary[]) {
  return cycles.map((c) => ({
    portal: c.portal,
    seconds: (c.finishedAt - c.startedAt) / 1000,
    streams: Object.fromEntries(
      c.streams.map((s) => [s.type, { status: s.status, pages: s.pages, records: s.records, changed: s.changed, error: s.error?.message ?? null }]),
    ),
    error: c.error === undefined ? null : { kind: c.error.kind, message: c.error.message },
    scored: c.scored,
    writeBack: c.writeBack === undefined ? null : { written: c.writeBack.written, retrying: c.writeBack.retrying, parked: c.writeBack.parked },
  }));
}

export const command: Command = {
  name: 'sync',
  summary: 'Pull the CRM into the local cache (backfill, then incremental)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, {
      once: { type: 'boolean', default: false },
      'read-only': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      streams: { type: 'string' },
      portal: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }, io);
    if (typeof values === 'number') return values;
    let types: ObjectType[] = [...OBJECT_TYPES];
    if (values.streams !== undefined) {
      const asked = values.streams.split(',').map((s) => s.trim());
      const unknown = asked.filter((s) => !(OBJECT_TYPES as readonly string[]).includes(s));
      if (unknown.length > 0) {
        io.stderr(`rapport sync: unknown stream(s) ${unknown.join(', ')}; known: ${OBJECT_TYPES.join(', ')}\n`);
        return EXIT.usage;
      }
      types = asked as ObjectType[];
    }

    const config = loadConfig(io.env);
    // On a terminal with progress bars, JSON log lines would tear through them: they go to a
    // file next to the database, and the first line says where.
    const drawing = io.isTTY && !values.json;
    const logFile = logFileFor(config.dbPath);
    const logger = createLogger({ level: config.logLevel, ...(drawing ? { destination: logFileDestination(logFile, { append: true }) } : {}) });
    const bars = createProgressBars(io.stderr, drawing, Date.now, io.columns === undefined ? {} : { columns: io.columns });
    if (drawing) bars.print(`rapport sync: logs (level ${config.logLevel}) go to ${logFile}\n`);
    // after a signal the CLI's notice sits below the bars: leave them as they are
    io.signal.addEventListener('abort', () => bars.finish({ redraw: false }), { once: true });
    const rapport = await createRapport({
      config,
      logger,
      // a continuous sync follows change notifications (Salesforce CDC) like serve; --once does not subscribe
      changeStreams: !values.once,
      onProgress: (p) => {
        if (!io.signal.aborted) bars.update(p);
      },
    });
    try {
      const connected = await connectOrExplain(rapport, 'sync', io);
      if (typeof connected === 'number') return connected;
      let portals = connected;
      if (values.portal !== undefined) portals = portals.filter((p) => p === values.portal);
      if (portals.length === 0) {
        io.stderr(
          values.portal !== undefined
            ? `rapport sync: portal ${values.portal} is not connected (see \`rapport status\`)\n`
            : `rapport sync: no CRM account configured. Install through \`rapport serve\` (${rapport.providers
                .list()
                .map((p) => `/oauth/${p.name}/install`)
                .join(' or ')}), or set a private-app token (docs/install-hubspot.md).\n`,
        );
        return EXIT.config;
      }

      if (!values.once) {
        for (const p of portals) void rapport.daemon.nudge(p, types);
        bars.print(`rapport sync: syncing ${portals.join(', ')} every ${config.syncIntervalMs / 1000}s; Ctrl-C to stop\n`);
        rapport.daemon.start();
        await untilAborted(io.signal);
        await rapport.daemon.stop();
        return EXIT.ok;
      }

      // First sync of a stream: read one page of each before writing anything, so a token that
      // lacks a scope fails with nothing half-synced.
      for (const p of portals) {
        const connector = rapport.connector(p);
        const fresh = types.filter((t) => rapport.store.cursors.get(p, t) === null);
        const problem = connector === undefined ? undefined : await preflight(connector, fresh, io.signal);
        if (problem !== undefined) {
          io.stderr(`rapport sync: ${p}: ${explainCrmError(problem, rapport.providers)}\n`);
          return exitCodeFor(problem);
        }
      }

      const cycles: CycleSummary[] = [];
      const stop = () => void rapport.daemon.stop();
      io.signal.addEventListener('abort', stop, { once: true });
      for (const p of portals) {
        // A full pass, like the daemon's: sync, score what changed (training first if the portal
        // has no model yet), then write the queued scores back, so the by-hand flow ends written back.
        const full = !values['read-only'];
        cycles.push(await rapport.daemon.runOnce(p, { types, score: full, writeBack: full }));
      }
      io.signal.removeEventListener('abort', stop);
      bars.finish();
      const failed = cycles.flatMap((c) => c.streams.filter((s) => s.status === 'failed'));
      if (values.json) io.stdout(JSON.stringify({ portals: summarize(cycles) }, null, 2) + '\n');
      else {
        for (const c of cycles) {
          const records = c.streams.reduce((n, s) => n + s.records, 0);
          const changed = c.streams.reduce((n, s) => n + s.changed, 0);
          io.stdout(`${c.portal}: ${records} records read, ${changed} changed, in ${((c.finishedAt - c.startedAt) / 1000).toFixed(1)}s\n`);
          const w = c.writeBack;
          if (values['read-only']) continue;
          io.stdout(
            `${c.portal}: ${c.scored} contacts scored; ${w?.written ?? 0} written back to the CRM` +
              (w === undefined || w.retrying + w.parked === 0 ? '' : `, ${w.retrying} to retry, ${w.parked} parked (see \`rapport status\`)`) +
              '\n',
          );
        }
        for (const s of failed) io.stderr(`rapport sync: ${s.portal} ${s.type}: ${s.error === undefined ? 'failed' : explainCrmError(s.error, rapport.providers)}\n`);
      }
      if (io.signal.aborted) return EXIT.ok;
      const first = failed[0]?.error;
      return first === undefined ? EXIT.ok : exitCodeFor(first);
    } finally {
      await rapport.close();
    }
  },
};
