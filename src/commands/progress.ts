import type { ObjectType } from '../connectors/types.ts';
import type { StreamProgress } from '../sync/sync-stream.ts';

export type ProgressBars = {
  /** a page was committed: redraw that stream's line (at most every 100 ms, at once when it finishes) */
  update(p: StreamProgress): void;
  /** ordinary output: on a TTY it goes above the live bars, never under them */
  print(text: string): void;
  /**
   * The bars become ordinary output, frozen as they are; later output goes below them.
   * `redraw: false` leaves the screen as it is: for when something else has written below the
   * block meanwhile (the CLI's "SIGINT received" line), which a redraw would move up over.
   */
  finish(opts?: { redraw?: boolean }): void;
};

export type ProgressOptions = {
  /** terminal width; lines are cut to it so each bar is exactly one row (default 80) */
  columns?: number;
  /** the name shown for a stream (the CRM's own object names) */
  label?: (type: ObjectType) => string;
};

/**
 * One progress line per stream (done / total, rate, ETA), redrawn in place on a TTY, below
 * everything else the command prints. Off a TTY the bars stay silent and `print` writes
 * straight through: scripts get the narration and the final summary (or `--json`).
 *
 * On a TTY the block is redrawn by moving the cursor up over exactly the rows it occupies (the
 * pending, unterminated line of narration included), clearing to the end of the screen and
 * writing again, so text printed in between is never overwritten: it is written first and the
 * block follows it.
 */
export function createProgressBars(
  write: (text: string) => void,
  isTTY: boolean,
  now: () => number = Date.now,
  opts: ProgressOptions = {},
): ProgressBars {
  const columns = Math.max(20, opts.columns ?? 80);
  const lines = new Map<string, StreamProgress>();
  /** narration written since the last newline (e.g. "▸ Installing… " awaiting its "done") */
  let partial = '';
  /** rows of bars currently on screen, below the partial line */
  let drawn = 0;
  let lastDraw = 0;

  const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n));
  const width = (s: string) => [...s].length;
  const rowsOf = (s: string) => Math.max(1, Math.ceil(width(s) / columns));
  const cut = (s: string) => [...s].slice(0, columns - 1).join('');

  function line(p: StreamProgress): string {
    // a finished stream keeps the rate it had when it finished
    const end = p.finishedAt ?? now();
    const secs = Math.max(0.001, (end - p.startedAt) / 1000);
    const rate = p.records / secs;
    const barWidth = 24;
    const name = (opts.label?.(p.type) ?? p.type).padEnd(20);
    const speed = `${rate.toFixed(0).padStart(6)}/s`;
    if (p.finishedAt !== undefined && p.status === 'ok') {
      return `${name} ${'█'.repeat(barWidth)} ${fmt(p.records).padStart(11)} ${speed} done in ${secs.toFixed(1)}s`;
    }
    // `total` is the CRM's estimate for the pass; once it is overtaken it says nothing useful
    const total = p.total !== undefined && p.total > 0 && p.total >= p.records ? p.total : undefined;
    const frac = total === undefined ? undefined : p.records / total;
    const bar = frac === undefined ? '·'.repeat(barWidth) : '█'.repeat(Math.round(frac * barWidth)).padEnd(barWidth, '░');
    const done = total !== undefined ? `${fmt(p.records)}/${fmt(total)}` : fmt(p.records);
    const tail =
      p.finishedAt !== undefined
        ? p.status === 'failed'
          ? 'failed'
          : 'stopped'
        : total !== undefined && rate > 0
          ? `ETA ${Math.max(0, Math.ceil((total - p.records) / rate))}s`
          : '';
    return `${name} ${bar} ${done.padStart(11)} ${speed} ${tail}`.trimEnd();
  }

  /** Moves back over the block (and the partial line above it), clears, rewrites the partial line. */
  function erase(): string {
    if (drawn === 0) return '';
    const up = drawn + (partial === '' ? 0 : rowsOf(partial));
    return `\x1b[${up}F\x1b[J${partial}`;
  }

  function block(): string {
    const text = [...lines.values()].map((p) => `${cut(line(p))}\n`);
    drawn = text.length;
    return (text.length > 0 && partial !== '' ? '\n' : '') + text.join('');
  }

  function draw(): void {
    lastDraw = now();
    write(erase() + block());
  }

  return {
    update(p: StreamProgress): void {
      if (!isTTY) return;
      const key = `${p.portal}/${p.type}`;
      const isNew = !lines.has(key);
      lines.set(key, p);
      if (isNew || p.finishedAt !== undefined || now() - lastDraw >= 100) draw();
    },
    print(text: string): void {
      if (!isTTY) {
        write(text);
        return;
      }
      const before = erase();
      const nl = text.lastIndexOf('\n');
      partial = nl === -1 ? partial + text : text.slice(nl + 1);
      write(before + text + (drawn > 0 || lines.size > 0 ? block() : ''));
    },
    finish(o: { redraw?: boolean } = {}): void {
      if (!isTTY || lines.size === 0) return;
      const t = now();
      for (const [k, p] of lines) if (p.finishedAt === undefined) lines.set(k, { ...p, finishedAt: t });
      if (o.redraw !== false) draw();
      // the block stays on screen as ordinary output; the cursor is on a fresh line below it
      lines.clear();
      drawn = 0;
      partial = '';
    },
  };
}
