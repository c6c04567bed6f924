import { ConfigError, DatabaseError, DatabaseFromFutureError, EXIT } from './errors.ts';
import type { CliIo, Command } from './commands/command.ts';

/**
 * `rapport <command>`: each command lives in src/commands/<name>.ts and is loaded only when
 * asked for, so `rapport --help` stays instant.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: {
    summary: 'Run the whole product on the embedded sandbox (what `npm start` does)',
    load: async () => (await import('./commands/demo.ts')).command,
  },
  serve: {
    summary: 'Run the HTTP server (OAuth, webhooks, card API) and the sync daemon',
    load: async () => (await import('./commands/serve.ts')).command,
  },
  worker: {
    summary: 'Run sync passes from the job queue (several processes, Postgres)',
    load: async () => (await import('./commands/worker.ts')).command,
  },
  sync: {
    summary: 'Pull the CRM into the local cache (backfill, then incremental)',
    load: async () => (await import('./commands/sync.ts')).command,
  },
  sandbox: {
    summary: 'Run a local HubSpot with a synthetic account (no CRM account needed)',
    load: async () => (await import('./commands/sandbox.ts')).command,
  },
  train: {
    summary: 'Train the churn and service-need models on the cached history',
    load: async () => (await import('./commands/train.ts')).command,
  },
  score: {
    summary: 'Score changed (or --all) contacts and queue changed values for write-back',
    load: async () => (await import('./commands/score.ts')).command,
  },
  model: {
    summary: 'Evaluate the churn model on a CSV export; fit BG/NBD or Gamma-Gamma',
    load: async () => (await import('./commands/model.ts')).command,
  },
  report: {
    summary: 'Write a self-contained HTML report (KPIs, score distributions, model curves, segments)',
    load: async () => (await import('./commands/report.ts')).command,
  },
  keys: {
    summary: 'Rotate the key that encrypts stored CRM tokens (keys rotate)',
    load: async () => (await import('./commands/keys.ts')).command,
  },
  outbox: {
    summary: 'Re-queue parked score writes (`outbox retry`)',
    load: async () => (await import('./commands/outbox.ts')).command,
  },
  migrate: {
    summary: 'Apply pending schema migrations to the store (SQLite or Postgres) and exit',
    load: async () => (await import('./commands/migrate.ts')).command,
  },
  db: {
    summary: 'Copy a SQLite cache into Postgres, verified (db copy)',
    load: async () => (await import('./commands/db.ts')).command,
  },
  status: {
    summary: 'Show portals, streams, lag, outbox and models',
    load: async () => (await import('./commands/status.ts')).command,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'Usage: rapport <command> [options]',
    '',
    'Customer-health scores for HubSpot and Salesforce contacts.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `rapport <command> --help` for the options of a command.',
    'Configuration comes from environment variables (see README.md, "Configuration").',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage() + '\n');
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    io.stderr(`rapport: unknown command "${name}"\n\n${usage()}\n`);
    return EXIT.usage;
  }
  let command: Command;
  try {
    command = await entry.load();
  } catch (e) {
    io.stderr(`rapport: the "${name}" command is not available in this build (${(e as Error).message})\n`);
    return EXIT.failure;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr(`rapport: ${e.message}\n`);
      return EXIT.config;
    }
    if (e instanceof DatabaseFromFutureError || e instanceof DatabaseError) {
      io.stderr(`rapport: ${e.message}\n`);
      return EXIT.database;
    }
    throw e;
  }
}

/** Signals this close to the first one are the same Ctrl-C delivered twice (see onSignal). */
const DUPLICATE_SIGNAL_MS = 500;

async function main(): Promise<void> {
  const controller = new AbortController();
  let firstSignalAt: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt !== undefined) {
      // One Ctrl-C can arrive twice: the terminal signals the whole foreground process group,
      // and `npm start` forwards the same SIGINT to us. Only a second press forces the exit.
      if (now - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
      process.exit(130);
    }
    firstSignalAt = now;
    process.stderr.write(`\nrapport: ${sig} received, finishing the current step (again to force)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await runCli(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    ...(process.stdout.columns === undefined ? {} : { columns: process.stdout.columns }),
    env: process.env,
    signal: controller.signal,
  });
  process.exitCode = code;
  // Servers and timers are closed by the commands; make sure nothing keeps us alive on exit.
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`rapport: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(EXIT.failure);
  });
}
