import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.ts';
import { EXIT } from '../../../src/errors.ts';
import { createStore } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { contact, purchase, survey, PORTAL } from './fixtures.ts';

let dir: { path: string; cleanup: () => void } | undefined;
afterEach(() => dir?.cleanup());

async function cli(args: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    isTTY: false,
    env: { RAPPORT_LOG_LEVEL: 'silent', ...env },
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

async function seeded(): Promise<Record<string, string>> {
  dir = tempDir('rapport-cmd-');
  const db = join(dir.path, 'r.db');
  const store = createStore({ path: db });
  await store.records.upsertPage([contact('a'), purchase('a', 20), survey('a', 'CSAT', 5, 10), contact('b')]);
  await store.close();
  return { RAPPORT_DB: db };
}

describe('rapport score / rapport train', () => {
  it('--help prints the usage of each command', async () => {
    for (const name of ['score', 'train']) {
      const r = await cli([name, '--help'], {});
      expect(r.code).toBe(EXIT.ok);
      expect(r.out).toContain(`Usage: rapport ${name}`);
    }
  });

  it('scores a portal from the cache and reports JSON; a second run has nothing dirty', async () => {
    const env = await seeded();
    const r = await cli(['score', '--portal', PORTAL, '--json'], env);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const [res] = JSON.parse(r.out) as { portal: string; scored: number; enqueued: number }[];
    expect(res).toMatchObject({ portal: PORTAL, scored: 2, enqueued: 2 });
    const again = await cli(['score', '--portal', PORTAL, '--json'], env);
    expect(JSON.parse(again.out)[0]).toMatchObject({ scored: 0, enqueued: 0 });
    const all = await cli(['score', '--all', '--portal', PORTAL], env);
    expect(all.out).toMatch(/scored 2 contacts/);
  });

  it('trains (cold start on a tiny cache) and prints the metrics line per model', async () => {
    const env = await seeded();
    const r = await cli(['train', '--portal', PORTAL], env);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^hubspot:42: model m\d{8}T\d{4}/);
    expect(r.out).toContain('churn:        cold-start prior');
  });

  it('clear errors: bad flag, malformed or unknown portal, nothing installed', async () => {
    const env = await seeded();
    const bad = await cli(['score', '--bogus'], env);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toContain("Unknown option '--bogus'");
    const malformed = await cli(['train', '--portal', 'acme'], env);
    expect(malformed.code).toBe(EXIT.failure);
    expect(malformed.err).toContain('expected hubspot:<hub id> or salesforce:<org id>');
    const unknown = await cli(['score', '--portal', 'hubspot:999'], env);
    expect(unknown.code).toBe(EXIT.failure);
    expect(unknown.err).toContain('unknown portal hubspot:999 (installed: none)');
    const none = await cli(['score'], env);
    expect(none.code).toBe(EXIT.failure);
    expect(none.err).toContain('no portal installed yet');
  });
});
