import { describe, expect, it } from 'vitest';
import { rapportInProcess } from '../../support/cli.ts';
import { generatedStore } from '../report/generated-store.ts';

describe('rapport train', () => {
  it('prints counts as integers and metrics with a fixed number of decimals', async () => {
    const env = await generatedStore('hubspot:7', 400);
    await env.store.portals.upsert({ portal: 'hubspot:7', crm: 'hubspot', externalId: '7', baseUrl: 'http://127.0.0.1:1', scopes: [] });
    await env.store.close();
    try {
      const r = await rapportInProcess(['train'], { RAPPORT_DB: env.path });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^hubspot:7: model \S+ \(400 contacts, \d+ used\)$/m);
      expect(r.stdout).toMatch(/churn: {8}\S.*held-out AUC (\d\.\d{3}|-), PR AUC (\d\.\d{3}|-), Brier (\d\.\d{3}|-), ECE (\d\.\d{3}|-), lift@10% (\d+\.\d{2}|-) \(n=\d+\)/);
      expect(r.stdout).toMatch(/loyalty: \d+ buyers; satisfaction prior \d\.\d{2}$/m);
      // no stored float printed raw (0.7507, 3.8135) nor a count with decimals (2150.000)
      expect(r.stdout).not.toMatch(/\d\.\d{4}|\d+\.0+\b/);
    } finally {
      await env.cleanup();
    }
  }, 60_000);
});
