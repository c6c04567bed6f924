import { loadConfig, type Config } from '../config.ts';
import { EXIT } from '../errors.ts';
import { createLogger, type Logger } from '../log.ts';
import { createJobQueue } from '../work/queue.ts';
import { createRapport } from '../main.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { installProcessGuards } from './process-guards.ts';
import { connectOrExplain } from './sync.ts';

const USAGE = `Usage: rapport serve [--port N] [--host H] [--role all|web]

Runs Rapport: the HTTP server (OAuth install, HubSpot webhooks, card API, /healthz) and the sync
daemon, which keeps every connected portal synced, scored and written back. With
RAPPORT_OPERATOR_PORT set, a second listener on 127.0.0.1 serves the card preview, the report
and /metrics (see docs/operations.md "Security"). Stops cleanly on SIGINT/SIGTERM (the current
page is committed first).

Options:
  --port N     listen port (default RAPPORT_PORT, 3000)
  --host H     listen address (default 127.0.0.1, for a proxy on this host; 0.0.0.0 only for a
               proxy on another host)
  --role R     all (default): server and sync daemon in this process (SQLite or Postgres);
               web: only the HTTP side, which enqueues passes that \`rapport worker\` processes
               run (needs RAPPORT_DATABASE_URL: the job queue lives in Postgres; docs/deploy.md)
  -h, --help   this help

Unless RAPPORT_PUBLIC_URL is set, the public URL is http://<host>:<port> of these options
(http://127.0.0.1:<port> for 0.0.0.0 or ::; set RAPPORT_PUBLIC_URL to what HubSpot calls).
`;

export const command: Command = {
  name: 'serve',
  summary: 'Run the HTTP server and the sync daemon',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(
      command,
      args,
      { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, role: { type: 'string', default: 'all' }, help: { type: 'boolean', short: 'h', default: false } },
      io,
    );
    if (typeof values === 'number') return values;
    if (values.role !== 'all' && values.role !== 'web') {
      io.stderr(`rapport serve: --role must be all or web, got "${values.role}"\n`);
      return EXIT.usage;
    }
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
      io.stderr(`rapport serve: --port must be an integer between 0 and 65535, got "${values.port}"\n`);
      return EXIT.usage;
    }
    // --port wins over RAPPORT_PORT, and the default public URL follows the port and host we
    // listen on (webhook and card signatures are computed over it).
    const env = port === undefined ? io.env : { ...io.env, RAPPORT_PORT: String(port) };
    const config = loadConfig(env, env['RAPPORT_CONFIG'], { host: values.host });
    const logger = createLogger({ level: config.logLevel });
    if (values.role === 'web') return serveWeb(config, logger, values.host, io);
    const rapport = await createRapport({ config, logger, changeStreams: true });
    // an error escaping background work either leaves the server serving or stops it cleanly,
    // with the reason, instead of exiting with a raw stack
    const fatal = new AbortController();
    let fatalReason: string | undefined;
    const removeGuards = installProcessGuards(logger, (reason) => {
      fatalReason ??= reason;
      fatal.abort();
    });
    try {
      const portals = await connectOrExplain(rapport, 'serve', io);
      if (typeof portals === 'number') return portals;
      const { url, operatorUrl } = await rapport.listen(config.port, values.host);
      io.stderr(
        `rapport serve: listening on ${url} (public URL ${config.publicUrl}); ` +
          (operatorUrl === undefined ? '' : `operator routes (preview, report, metrics) on ${operatorUrl}; `) +
          (portals.length === 0 ? `no portal yet: install at ${config.publicUrl}/oauth/hubspot/install (HubSpot) or ${config.publicUrl}/oauth/salesforce/install (Salesforce)\n` : `portals: ${portals.join(', ')}\n`),
      );
      rapport.daemon.start();
      const stop = AbortSignal.any([io.signal, fatal.signal]);
      if (!stop.aborted) await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
      if (fatalReason !== undefined) {
        io.stderr(`rapport serve: stopped after an unexpected error: ${fatalReason}\n`);
        return EXIT.failure;
      }
      return EXIT.ok;
    } finally {
      try {
        await rapport.close();
      } finally {
        removeGuards();
      }
    }
  },
};

/**
 * `--role web`: webhooks, OAuth, the card API and /metrics; every pass goes to the job queue for
 * the workers. Calls no CRM itself (a portal's rate limit belongs to the worker running it).
 */
async function serveWeb(config: Config, logger: Logger, host: string, io: CliIo): Promise<number> {
  if (config.databaseUrl === undefined) {
    io.stderr('rapport serve --role web: the job queue lives in Postgres: set RAPPORT_DATABASE_URL (or run `rapport serve` alone, which syncs in this process)\n');
    return EXIT.config;
  }
  const queue = await createJobQueue({ url: config.databaseUrl, logger, heartbeatSeconds: config.jobHeartbeatSeconds });
  const rapport = await createRapport({ config, logger, dispatch: queue }).catch(async (e: unknown) => {
    await queue.stop();
    throw e;
  });
  const removeGuards = installProcessGuards(logger, () => {});
  try {
    const { url, operatorUrl } = await rapport.listen(config.port, host);
    io.stderr(`rapport serve --role web: listening on ${url} (public URL ${config.publicUrl})${operatorUrl === undefined ? '' : `; operator routes on ${operatorUrl}`}; passes go to the job queue for \`rapport worker\`\n`);
    if (!io.signal.aborted) await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
    return EXIT.ok;
  } finally {
    try {
      await rapport.close();
      await queue.stop();
    } finally {
      removeGuards();
    }
  }
}
