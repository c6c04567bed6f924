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
  /** the environment, handed to loadConfig; commands never read process.env themselves */
  env: Readonly<Record<string, string | undefined>>;
  /** aborted on SIGINT/SIGTERM: finish the current unit of work, commit, return */
  signal: AbortSignal;
};
