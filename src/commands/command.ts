import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { EXIT } from '../errors.ts';

/** One CLI command. `run` returns the process exit code (see EXIT in errors.ts). */
export type Command = {
  /** e.g. 'sandbox' or 'model eval' */
  name: string;
  /** one line for `rapport --help` */
  summary: string;
  /** full `--help` text of the command */
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
};

export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** whether stdout is a terminal (progress bars, colours) */
  isTTY: boolean;
  /** the terminal's width when it is one (progress bars are cut to it) */
  columns?: number;
  /** the environment, handed to loadConfig; commands never read process.env themselves */
  env: Readonly<Record<string, string | undefined>>;
  /** aborted on SIGINT/SIGTERM: finish the current unit of work, commit, return */
  signal: AbortSignal;
};

type FlagValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true }>>['values'];

/**
 * Parses a command's flags (strict: unknown flags are errors). `--help`/`-h` prints the usage.
 * Returns the values, or the exit code to return at once (0 after --help, 2 after a bad flag).
 */
export function parseFlags<const O extends ParseArgsOptionsConfig>(
  command: Pick<Command, 'name' | 'usage'>,
  args: string[],
  options: O,
  io: CliIo,
): FlagValues<O> | number {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(command.usage);
    return 0;
  }
  try {
    return parseArgs({ args, options, strict: true }).values;
  } catch (e) {
    io.stderr(`rapport ${command.name}: ${(e as Error).message}\n\n${command.usage}`);
    return 2;
  }
}

/**
 * Resolves when `signal` aborts. Holds a referenced timer meanwhile: a command that waits only on
 * unref'd timers (the sync daemon's interval) would otherwise let Node exit as soon as its
 * sockets go idle, with exit 0, long before any signal.
 */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const keepAlive = setInterval(() => {}, 60_000);
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(keepAlive);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * The one subcommand a command takes (`rapport keys rotate`, `rapport outbox retry`): its
 * remaining arguments, or the exit code after printing the usage (help: 0, missing or unknown: 2).
 */
export function subcommand(command: string, expected: string, args: readonly string[], usage: string, io: CliIo): string[] | number {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(usage);
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  if (sub !== expected) {
    io.stderr(`rapport ${command}: unknown subcommand "${sub}" (expected ${expected})\n\n${usage}`);
    return EXIT.usage;
  }
  return rest;
}
