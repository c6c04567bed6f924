import type { StreamProgress } from '../sync/sync-stream.ts';

/**
 * One progress line per stream (done / total, rate, ETA), redrawn in place on a TTY.
 * Off a TTY it stays silent: scripts get the final summary (or `--json`) instead.
 */
export function createProgressBars(write: (text: string) => void, isTTY: boolean, now: () => number = Date.now) {
  const lines = new Map<string, StreamProgress>();
  let drawn = 0;
  let lastDraw = 0;

  const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : String(n));
  function line(p: StreamProgress): string {
    const secs = Math.max(0.001, (now() - p.startedAt) / 1000);
    const rate = p.records / secs;
    const width = 24;
    const frac = p.total !== undefined && p.total > 0 ? Math.min(1, p.records / p.total) : undefined;
    const bar = frac === undefined ? '·'.repeat(width) : '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const eta = frac !== undefined && rate > 0 && p.total !== undefined ? `ETA ${Math.max(0, Math.ceil((p.total - p.records) / rate))}s` : '';
    const done = p.total !== undefined ? `${fmt(p.records)}/${fmt(p.total)}` : fmt(p.records);
    return `${p.type.padEnd(21)} ${bar} ${done.padStart(11)}  ${rate.toFixed(0).padStart(6)}/s  ${eta}`;
  }
  function draw(force: boolean): void {
    if (!isTTY) return;
    if (!force && now() - lastDraw < 100) return;
    lastDraw = now();
    const text = [...lines.values()].map(line);
    // Move up over what we drew last time and redraw every line (clearing leftovers).
    write((drawn > 0 ? `\x1b[${drawn}F` : '') + text.map((t) => `\x1b[2K${t}\n`).join(''));
    drawn = text.length;
  }
  return {
    update(p: StreamProgress): void {
      lines.set(`${p.portal}/${p.type}`, p);
      draw(false);
    },
    finish(): void {
      draw(true);
    },
  };
}
