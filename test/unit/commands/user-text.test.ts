import { describe, expect, it } from 'vitest';
import { usage } from '../../../src/cli.ts';
import { buildReport } from '../../../src/report/index.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { trainPortal } from '../../../src/scoring/train.ts';
import { rapportInProcess } from '../../support/cli.ts';
import { GEN_NOW, generatedStore } from '../report/generated-store.ts';

/** Users read help texts and reports; paths into our source tree mean nothing to them. */
const SOURCE_PATH = /\bsrc\/[a-z]/;

describe('user-facing text names no source files', () => {
  it('no command help', async () => {
    const names = usage()
      .split('\n')
      .flatMap((l) => /^ {2}([a-z]+) {2}/.exec(l)?.[1] ?? []);
    expect(names.length).toBeGreaterThanOrEqual(9);
    for (const name of [...names, 'model eval', 'model fit-bgnbd', 'model fit-gamma-gamma']) {
      const r = await rapportInProcess([...name.split(' '), '--help'], {});
      expect(r.code, name).toBe(0);
      expect(r.stdout.length, name).toBeGreaterThan(50);
      expect(r.stdout, name).not.toMatch(SOURCE_PATH);
    }
  });

  it('not the report', async () => {
    const env = await generatedStore('hubspot:7', 300);
    try {
      await trainPortal(env.store, 'hubspot:7', { now: GEN_NOW });
      await scoreContacts(env.store, 'hubspot:7', { contactIds: 'all', now: GEN_NOW });
      const r = await buildReport(env.store, 'hubspot:7', { generatedAt: GEN_NOW });
      if ('error' in r) throw new Error(r.message);
      expect(r.html).toContain('same time split as training');
      expect(r.html).not.toMatch(SOURCE_PATH);
    } finally {
      await env.cleanup();
    }
  }, 60_000);
});
