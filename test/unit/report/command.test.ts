/** `rapport report` through the real CLI entry, over a real SQLite file: output and error paths. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.ts';
import { EXIT } from '../../../src/errors.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { createStore } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { contact, NOW, PORTAL, purchase, survey } from '../scoring/fixtures.ts';
import { assertSelfContained } from './html-checks.ts';

let dir: { path: string; cleanup: () => void } | undefined;
afterEach(() => dir?.cleanup());

async function cli(args: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await runCli(['report', ...args], {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    isTTY: false,
    env: { RAPPORT_LOG_LEVEL: 'silent', ...env },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

/** A database file with a few contacts of PORTAL (scored unless told otherwise), and optionally a second portal. */
async function database(opts: { score?: boolean; otherPortal?: boolean } = {}): Promise<{ env: Record<string, string>; dir: string }> {
  dir = tempDir('rapport-report-cmd-');
  const db = join(dir.path, 'r.db');
  const store = createStore({ path: db, now: () => NOW });
  await store.records.upsertPage([contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10), contact('b')]);
  if (opts.score !== false) await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
  if (opts.otherPortal === true) {
    await store.records.upsertPage([{ ...contact('z'), portal: 'hubspot:99' }]);
    await scoreContacts(store, 'hubspot:99', { contactIds: 'all', now: NOW });
  }
  await store.close();
  return { env: { RAPPORT_DB: db }, dir: dir.path };
}

describe('rapport report', () => {
  it('writes the HTML file and says where', async () => {
    const { env, dir: d } = await database();
    const out = join(d, 'report.html');
    const r = await cli(['--out', out], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain(`Wrote the report for ${PORTAL} to ${out}`);
    expect(r.out).toContain('2 contacts, 2 scored');
    const html = readFileSync(out, 'utf8');
    expect(html.includes(`Rapport report — ${PORTAL}`)).toBe(true);
    assertSelfContained(html);
    // money says its currency: the one given, else that it is the deals' own
    expect(html).toMatch(/id="kpi-avg_clv"[\s\S]*?class="value">[\d,]+ \(deal currency\)</);
    const eur = join(d, 'eur.html');
    expect((await cli(['--out', eur, '--currency', 'eur'], env)).code).toBe(EXIT.ok);
    expect(readFileSync(eur, 'utf8')).toMatch(/id="kpi-avg_clv"[\s\S]*?class="value">€[\d,]+</);
  });

  it('--json summarises with the KPI values; --portal picks one of several portals', async () => {
    const { env, dir: d } = await database({ otherPortal: true });
    const ambiguous = await cli(['--out', join(d, 'x.html')], env);
    expect(ambiguous.code).toBe(EXIT.failure);
    expect(ambiguous.err).toContain('several portals (hubspot:42, hubspot:99): choose one with --portal');
    const out = join(d, 'r.html');
    const r = await cli(['--out', out, '--portal', PORTAL, '--json', '--window', '30'], env);
    expect(r.code).toBe(EXIT.ok);
    const summary = JSON.parse(r.out) as { portal: string; out: string; contacts: number; kpis: Record<string, number | null> };
    expect(summary).toMatchObject({ portal: PORTAL, out, contacts: 2 });
    expect(summary.kpis['csat']).toBe(100); // a's CSAT 5, 10 days ago
    expect(existsSync(out)).toBe(true);
  });

  it('says to run train and score first when nothing is scored, and writes nothing', async () => {
    const { env, dir: d } = await database({ score: false });
    const out = join(d, 'report.html');
    const r = await cli(['--out', out, '--portal', PORTAL], env);
    expect(r.code).toBe(EXIT.failure);
    expect(r.err).toContain(`nothing scored yet for ${PORTAL}`);
    expect(r.err).toContain('rapport score --all');
    expect(existsSync(out)).toBe(false);
    // without --portal, an unscored cache has no portal to choose
    const none = await cli(['--out', out], env);
    expect(none.code).toBe(EXIT.failure);
    expect(none.err).toContain('no portal yet');
  });

  it('rejects a missing --out, bad numbers, unknown portals and unwritable paths with clear messages', async () => {
    const { env, dir: d } = await database();
    const noOut = await cli([], env);
    expect(noOut.code).toBe(EXIT.usage);
    expect(noOut.err).toContain('--out FILE is required');
    const badWindow = await cli(['--out', join(d, 'a.html'), '--window', 'soon'], env);
    expect(badWindow.code).toBe(EXIT.usage);
    expect(badWindow.err).toContain('--window');
    const badCurrency = await cli(['--out', join(d, 'a.html'), '--currency', 'euros'], env);
    expect(badCurrency.code).toBe(EXIT.usage);
    expect(badCurrency.err).toContain('--currency: must be a three-letter ISO 4217 code');
    const unknownFlag = await cli(['--out', join(d, 'a.html'), '--colour'], env);
    expect(unknownFlag.code).toBe(EXIT.usage);
    const unknown = await cli(['--out', join(d, 'a.html'), '--portal', 'hubspot:5'], env);
    expect(unknown.code).toBe(EXIT.failure);
    expect(unknown.err).toContain('unknown portal hubspot:5');
    const malformed = await cli(['--out', join(d, 'a.html'), '--portal', 'hub spot'], env);
    expect(malformed.code).toBe(EXIT.failure);
    expect(malformed.err).toContain('expected hubspot:<hub id>');
    const unwritable = await cli(['--out', join(d, 'missing-dir', 'a.html')], env);
    expect(unwritable.code).toBe(EXIT.failure);
    expect(unwritable.err).toContain('cannot write');
    expect(unwritable.err).toContain('ENOENT');
    const help = await cli(['--help'], env);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toContain('Usage: rapport report --out FILE');
  });
});
