import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rapportInTerminal } from '../support/pty.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * `npm start` as a user sees it: in a real pseudo-terminal, its bytes rendered by a terminal
 * model (@xterm/headless). The progress bars used to move the cursor up over the narration
 * (summary, card preview and report URLs, the "Live" banner and the table header), pino's JSON
 * lines tore through the bars, and Ctrl-C ended `npm start` with 130.
 */
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('rapport demo in a terminal', () => {
  it('keeps the URLs, the live banner and the table header on screen; logs go to a file; Ctrl-C exits 0', async () => {
    const db = join(dir.path, 'demo.db');
    const t = rapportInTerminal(['start', '--', '--contacts', '300', '--every', '1', '--db', db], {
      file: 'npm',
      cols: 120,
      rows: 60,
      // info-level logs: plenty of JSON lines that must not reach the screen
      env: { RAPPORT_LOG_LEVEL: 'info' },
    });
    try {
      const row = /^ {2}\d\d:\d\d:\d\d {2}\d+ +\S/;
      const live = await t.waitFor(row, 150_000);
      expect(live, (await t.lines()).join('\n')).toBe(true);
      // a second row after more live events, so the bars and rows were interleaved a while
      await new Promise((r) => setTimeout(r, 2500));
      t.ctrlC();
      const exit = await t.exited;
      const lines = await t.lines();
      const screen = lines.join('\n');
      // npm itself ends normally with 0: killed by the signal, the user's shell would see 130
      expect(exit.exitCode, screen).toBe(0);
      expect(exit.signal ?? 0, screen).toBe(0);

      const one = (re: RegExp) => expect(lines.filter((l) => re.test(l)), `${re} in\n${screen}`).toHaveLength(1);
      one(/^▸ Starting the HubSpot sandbox with a synthetic account of 300 contacts \(seed 42\)… done in /);
      one(/^▸ Installing Rapport through the sandbox OAuth flow, provisioning, backfilling, training, scoring and writing back… $/);
      one(/^ {2}card preview: http:\/\/127\.0\.0\.1:\d+\/preview\/contacts\/\d+\?portal=hubspot:\d+$/);
      one(/^ {2}report: http:\/\/127\.0\.0\.1:\d+\/report\?portal=hubspot:\d+ {3}metrics: http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      one(/^▸ Live \(reached in [\d.]+s\): new activity every 1s/);
      one(/^ {2}time {6}contact {14}event {21}satisfaction {2}loyalty {2}churn {2}service {2}health {3}latency$/);
      one(/^ {2}churn model \S+: ROC AUC [\d.]+, .*\(test n \d+, positives \d+\)$/);
      // and they are on the final screen, not only in the scrollback
      const visible = await t.viewport();
      for (const re of [/^ {2}card preview: http/, /^ {2}report: http/, /^▸ Live /, /^ {2}time {6}contact/]) {
        expect(visible.some((l) => re.test(l)), `${re} on the final screen:\n${visible.join('\n')}`).toBe(true);
      }
      const header = lines.findIndex((l) => l.startsWith('  time      contact'));
      expect(lines.slice(header + 1).some((l) => row.test(l))).toBe(true);
      // the backfill bars stayed as a record, with counters that add up and frozen rates
      const bars = lines.filter((l) => /^(contacts|companies|deals) +[█░·]{24}/.test(l));
      expect(bars.length).toBeGreaterThanOrEqual(3);
      for (const b of bars) {
        const m = /(\d+)\/(\d+)/.exec(b);
        if (m !== null) expect(Number(m[1])).toBeLessThanOrEqual(Number(m[2]));
      }
      // no JSON log line on the screen; they are in the file the narration names
      expect(lines.filter((l) => l.startsWith('{"level"'))).toEqual([]);
      const logFile = join(dir.path, 'demo.log');
      one(new RegExp(`^ {2}logs \\(level info\\): ${logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      expect(existsSync(logFile)).toBe(true);
      expect(readFileSync(logFile, 'utf8')).toMatch(/"msg":"stream done"/);
      expect(screen).toMatch(/SIGINT received, finishing the current step/);
      expect(screen).not.toContain('<id>');
    } finally {
      t.dispose();
    }
  }, 200_000);
});
