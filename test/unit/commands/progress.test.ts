import xterm from '@xterm/headless';
import { describe, expect, it } from 'vitest';
import { createProgressBars } from '../../../src/commands/progress.ts';
import type { StreamProgress } from '../../../src/sync/sync-stream.ts';

const p = (type: 'contacts' | 'deals', records: number, total: number | undefined, more: Partial<StreamProgress> = {}): StreamProgress => ({
  portal: 'hubspot:1',
  type,
  pages: 1,
  records,
  changed: records,
  total,
  startedAt: 0,
  ...more,
});

/** A terminal as the user has it: the bytes go through a terminal model (with the tty's \n → \r\n). */
function screen(cols: number, rows = 40) {
  const term = new xterm.Terminal({ cols, rows, convertEol: true, allowProposedApi: true });
  let pending = Promise.resolve();
  const write = (t: string) => void (pending = pending.then(() => new Promise<void>((r) => term.write(t, r))));
  async function lines(): Promise<string[]> {
    await pending;
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? '');
    while (out.length > 0 && out.at(-1) === '') out.pop();
    return out;
  }
  /** the logical lines: wrapped rows joined back */
  async function text(): Promise<string[]> {
    await pending;
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) {
      const l = buf.getLine(i);
      const s = l?.translateToString(true) ?? '';
      if (l?.isWrapped === true && out.length > 0) out[out.length - 1] += s;
      else out.push(s);
    }
    while (out.length > 0 && out.at(-1) === '') out.pop();
    return out;
  }
  return { write, lines, text };
}

describe('progress bars', () => {
  it('on a TTY draws one line per stream with done/total, rate and ETA, redrawn in place', () => {
    let out = '';
    let now = 10_000;
    const bars = createProgressBars((t) => void (out += t), true, () => now);
    bars.update(p('contacts', 500, 1000));
    expect(out).toMatch(/contacts +█{12}░{12} +500\/1000 +50\/s +ETA 10s/);
    now += 1000;
    out = '';
    bars.update(p('deals', 30, undefined));
    // moves up over the line drawn before and redraws both
    expect(out.startsWith('\x1b[1F')).toBe(true);
    expect(out).toMatch(/contacts .*\n.*deals +·{24} +30 /s);
  });

  it('off a TTY stays silent (scripts read the summary) and prints narration straight through', () => {
    let out = '';
    const bars = createProgressBars((t) => void (out += t), false, () => 1000);
    bars.update(p('contacts', 5, 10));
    bars.print('hello\n');
    bars.finish();
    expect(out).toBe('hello\n');
  });

  it('never draws over narration: text printed between updates stays on screen, above the bars', async () => {
    const s = screen(100);
    let now = 1000;
    const bars = createProgressBars(s.write, true, () => now, { columns: 100 });
    bars.print('▸ Installing Rapport… ');
    for (let i = 1; i <= 5; i++) {
      now += 200;
      bars.update(p('contacts', i * 60, 300));
      bars.update(p('deals', i * 10, 50));
    }
    bars.update(p('contacts', 300, 300, { finishedAt: now, status: 'ok' }));
    bars.update(p('deals', 50, 50, { finishedAt: now, status: 'ok' }));
    bars.finish();
    bars.print('done in 1.0s\n');
    bars.print('  card preview: http://127.0.0.1:4000/preview/contacts/101?portal=hubspot:1\n');
    bars.print('  report: http://127.0.0.1:4000/report?portal=hubspot:1\n');
    bars.print('  time      contact   event\n');
    // the live phase: new passes start a new block below the table; rows are printed above it
    for (let i = 0; i < 4; i++) {
      now += 1000;
      bars.update(p('contacts', 1, 1, { startedAt: now }));
      bars.print(`  12:00:0${i}  10${i}       call 3000${i}\n`);
      bars.update(p('deals', 2, 2, { startedAt: now }));
    }
    const lines = await s.lines();
    const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
    expect(count(/^▸ Installing Rapport… $/)).toBe(1);
    expect(count(/card preview: http:\/\/127\.0\.0\.1:4000\/preview\/contacts\/101\?portal=hubspot:1$/)).toBe(1);
    expect(count(/report: http:\/\/127\.0\.0\.1:4000\/report\?portal=hubspot:1$/)).toBe(1);
    expect(count(/^ {2}time {6}contact {3}event$/)).toBe(1);
    for (let i = 0; i < 4; i++) expect(count(new RegExp(`12:00:0${i}  10${i}`))).toBe(1);
    expect(count(/^done in 1\.0s$/)).toBe(1);
    // the frozen backfill block sits between the step and its "done"; the live block is last
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^contacts .* 300 .*done in/)).toBeGreaterThan(at(/Installing/));
    expect(at(/^done in/)).toBeGreaterThan(at(/^deals .* 50 .*done in/));
    expect(lines.at(-1)).toMatch(/^deals /);
    expect(lines.at(-2)).toMatch(/^contacts /);
    expect(lines.at(-3)).toMatch(/12:00:03/);
  });

  it('keeps a long pending line intact on a narrow terminal (rows wrap; bars are cut to the width)', async () => {
    const s = screen(40);
    let now = 0;
    const bars = createProgressBars(s.write, true, () => now, { columns: 40 });
    const step = '▸ Installing Rapport through the sandbox OAuth flow, provisioning, backfilling… ';
    bars.print(step);
    for (let i = 1; i <= 6; i++) {
      now += 150;
      bars.update(p('contacts', i * 50, 300));
      bars.update(p('deals', i, undefined));
    }
    bars.print('done\n');
    bars.print('next line\n');
    const text = await s.text();
    expect(text).toContain(`${step}done`);
    expect(text.filter((l) => l.includes('Installing Rapport')).length).toBe(1);
    expect(text.filter((l) => l === 'next line').length).toBe(1);
    for (const l of await s.lines()) expect([...l].length).toBeLessThanOrEqual(40);
  });

  it('a finished stream keeps the rate it finished with; a total overtaken by the records read is not shown', () => {
    let out = '';
    let now = 2000;
    const bars = createProgressBars((t) => void (out += t), true, () => now);
    bars.update(p('contacts', 1000, 1000, { finishedAt: 2000, status: 'ok' }));
    expect(out).toMatch(/contacts +█{24} +1000 +500\/s +done in 2\.0s/);
    now = 60_000;
    out = '';
    bars.update(p('deals', 5897, 97));
    expect(out).toMatch(/contacts +█{24} +1000 +500\/s +done in 2\.0s/);
    expect(out).not.toMatch(/5897\/97/);
    expect(out).toMatch(/deals +·{24} +5897 /);
  });
});
