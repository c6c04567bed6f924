import { join } from 'node:path';
import { spawn, type IPty } from '@lydell/node-pty';
import xterm from '@xterm/headless';
import { ROOT } from './cli.ts';

/**
 * Runs a command (default `bin/rapport …`) in a pseudo-terminal and feeds every byte it writes to
 * a headless xterm, so a test sees what a user's terminal shows (cursor moves, line clears,
 * wrapping), not the raw byte stream.
 */
export function rapportInTerminal(
  args: string[],
  opts: { cols?: number; rows?: number; env?: Record<string, string>; file?: string } = {},
) {
  const cols = opts.cols ?? 120;
  const rows = opts.rows ?? 60;
  const term = new xterm.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  let raw = '';
  let pending = Promise.resolve();
  const child: IPty = spawn(opts.file ?? join(ROOT, 'bin', 'rapport'), args, {
    name: 'xterm-256color',
    cols,
    rows,
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      TERM: 'xterm-256color',
      RAPPORT_CONFIG: '/nonexistent/rapport.config.json',
      ...opts.env,
    },
  });
  child.onData((d) => {
    raw += d;
    pending = pending.then(() => new Promise<void>((resolve) => term.write(d, resolve)));
  });
  const exited = new Promise<{ exitCode: number; signal?: number }>((resolve) => child.onExit((e) => resolve(e)));

  /** Every line of the terminal, scrollback included, right-trimmed; rows that wrap are joined back. */
  async function lines(): Promise<string[]> {
    await pending;
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) {
      const line = buf.getLine(i);
      const text = line?.translateToString(true) ?? '';
      if (line?.isWrapped === true && out.length > 0) out[out.length - 1] += text;
      else out.push(text);
    }
    while (out.length > 0 && out.at(-1) === '') out.pop();
    return out;
  }

  /** The rows visible in the terminal window at the end (what the user is looking at). */
  async function viewport(): Promise<string[]> {
    await pending;
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let i = buf.baseY; i < buf.baseY + rows; i++) out.push(buf.getLine(i)?.translateToString(true) ?? '');
    return out;
  }

  /** Waits until some line matches (or the process exits, or `ms` pass). */
  async function waitFor(re: RegExp, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    let gone = false;
    void exited.then(() => (gone = true));
    while (Date.now() < deadline && !gone) {
      if ((await lines()).some((l) => re.test(l))) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return (await lines()).some((l) => re.test(l));
  }

  return {
    child,
    exited,
    lines,
    viewport,
    waitFor,
    raw: () => raw,
    /** what Ctrl-C sends: the terminal delivers SIGINT to the foreground process group */
    ctrlC: () => child.write('\x03'),
    dispose: () => {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
      term.dispose();
    },
  };
}
