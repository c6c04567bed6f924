import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { createLogger } from '../log.ts';
import { createRapport } from '../main.ts';
import type { ObjectType } from '../connectors/types.ts';
import { createJobQueue } from '../work/queue.ts';
import { portalsDue } from '../work/scheduled-passes.ts';
import { holdChangeStreams, type ChangeStreamHolder } from '../work/change-streams.ts';
import { createSessionLocks } from '../store/index.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { installProcessGuards } from './process-guards.ts';

const USAGE = `Usage: rapport worker [--concurrency N]

Runs sync passes from the job queue (issue 16, docs/deploy.md): each job is one portal's pass
(sync every stream, score, write back), taken by one worker of the deployment at a time; webhooks
reach the queue through \`rapport serve --role web\`, and every portal gets a pass each
RAPPORT_SYNC_INTERVAL (one schedule for the whole deployment). Start as many workers, on as many
machines, as the portals need. A worker that dies leaves its job to another after a 30 s
heartbeat; a pass that keeps failing is retried with backoff, then listed by \`rapport status\`.
Exactly one worker holds each Salesforce org's Change Data Capture subscription (a Postgres
session lock per org), the orgs shared out evenly among the running workers; when a worker dies
another takes its orgs over within a heartbeat interval and resumes from the stored replay id.
While an org's change events are live its streams are polled only each
SALESFORCE_CDC_POLL_INTERVAL_MS, as in \`rapport serve\`.
Needs RAPPORT_DATABASE_URL: the store and the queue live in Postgres. Stops cleanly on
SIGINT/SIGTERM (running passes commit their current page first).

Options:
  --concurrency N   portals this process runs at once (default 4)
  -h, --help        this help
`;

export const command: Command = {
  name: 'worker',
  summary: 'Run sync passes from the job queue (several processes, Postgres)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, { concurrency: { type: 'string', default: '4' }, help: { type: 'boolean', short: 'h', default: false } }, io);
    if (typeof values === 'number') return values;
    const concurrency = Number(values.concurrency);
    if (!(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 64)) {
      io.stderr(`rapport worker: --concurrency must be an integer from 1 to 64, got "${values.concurrency}"\n`);
      return EXIT.usage;
    }
    const config = loadConfig(io.env, io.env['RAPPORT_CONFIG']);
    if (config.databaseUrl === undefined) {
      io.stderr('rapport worker: the job queue lives in Postgres: set RAPPORT_DATABASE_URL (a single process with SQLite runs `rapport serve`)\n');
      return EXIT.config;
    }
    const logger = createLogger({ level: config.logLevel });
    const rapport = await createRapport({ config, logger, keepConnectionsOpen: true });
    const removeGuards = installProcessGuards(logger, () => {});
    let queue: Awaited<ReturnType<typeof createJobQueue>> | undefined;
    let holder: ChangeStreamHolder | undefined;
    // one session of its own for the change-events locks: they live as long as it does
    const locks = createSessionLocks(config.databaseUrl, { applicationName: 'rapport-worker-locks', onLost: (reason) => holder?.lost(reason) });
    try {
      // static connections (a private-app token) and installed portals; each is provisioned in its
      // first job here (Rapport.runPass), where its calls share the portal's rate limit
      await rapport.connectPortals({ provision: false });
      queue = await createJobQueue({ url: config.databaseUrl, logger, heartbeatSeconds: config.jobHeartbeatSeconds, listen: true });
      await queue.work(
        async (portal, refresh) => {
          const summary = await rapport.runPass(portal, refresh.map((r) => ({ type: r.type as ObjectType, ids: r.ids })));
          // a dead token or missing scopes: retrying cannot help, the admin must reinstall
          if (summary.error !== undefined) logger.error({ portal, kind: summary.error.kind }, 'portal stopped: reinstall needed');
        },
        { concurrency },
      );
      // a portal whose change events are live is polled only every CDC poll interval (scheduled-passes.ts)
      await queue.schedulePasses(config.syncIntervalMs / 60_000, () => portalsDue(rapport.store, { now: rapport.store.now(), tickMs: config.syncIntervalMs }));
      // Change Data Capture: one worker of the deployment holds each org's subscription (src/work/change-streams.ts)
      const q = queue;
      holder = holdChangeStreams({
        portals: async () => (await rapport.store.portals.list()).filter((p) => p.status === 'connected' && rapport.providers.get(p.crm)?.changeStream !== undefined).map((p) => p.portal),
        open: (portal, nudge) => rapport.openChangeStream(portal, nudge),
        requestPass: (portal) => q.requestSync(portal),
        locks,
        logger,
        everyMs: config.jobHeartbeatSeconds * 1000,
      });
      io.stderr(`rapport worker: running up to ${concurrency} portal passes at once from the job queue\n`);
      if (!io.signal.aborted) await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
      return EXIT.ok;
    } finally {
      try {
        // subscriptions first: their last events' passes are queued, their replay ids stored
        await holder?.stop();
        await queue?.stop();
        await rapport.close();
        await locks.close();
      } finally {
        removeGuards();
      }
    }
  },
};
