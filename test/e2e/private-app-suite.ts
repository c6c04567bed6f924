import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { PROPERTY_OF } from '../../src/connectors/hubspot/provision.ts';
import { SCORE_FIELDS } from '../../src/scores.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { DEFAULT_PRIVATE_APP_SCOPES } from '../../src/sandbox/hubspot/portals.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { connectStore } from '../../src/store/index.ts';
import { rapportInProcess } from '../support/cli.ts';

/**
 * The README's by-hand flow on a private-app install (HUBSPOT_ACCESS_TOKEN, no OAuth) and a fresh
 * database, with the real @hubspot/api-client talking to the sandbox over HTTP: the portal has no
 * rapport_* properties until Rapport creates them, and the flow must end with every score written
 * back and nothing parked (issue 11, new-user items 2 and 4).
 *
 * One suite, run per store: `test/e2e/private-app.test.ts` on a SQLite file,
 * `test/postgres/private-app.postgres.test.ts` on a Postgres database (RAPPORT_DATABASE_URL).
 */
export type DatabaseEnv = {
  /** the env that selects a fresh, empty store for one test (RAPPORT_DB=… or RAPPORT_DATABASE_URL=…) */
  fresh(label: string): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
};

export function privateAppSuite(storeName: string, makeDatabases: () => DatabaseEnv): void {
  let sandbox: HubspotSandbox;
  let baseUrl: string;
  let closeSandbox: () => Promise<void>;
  let databases: DatabaseEnv;

  beforeAll(async () => {
    databases = makeDatabases();
    ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({ limits: false, seed: 3 }));
  });
  afterAll(async () => {
    await closeSandbox();
    await databases.cleanup();
  });

  function portalWith(contacts: number, opts: { token: string; scopes?: string[] }) {
    const { hubId, token } = sandbox.portals.create({ privateAppToken: opts.token, ...(opts.scopes === undefined ? {} : { scopes: opts.scopes }) });
    for (const batch of generateAccount({ seed: 5, contacts, now: sandbox.clock.now() })) sandbox.data.load(hubId, batch);
    return { hubId, token };
  }

  type Status = { portal: string; scored: number; outbox: { pending: number; parked: number }; parkedReasons: { reason: string; count: number }[] }[];

  describe(`private-app install, README by-hand flow (${storeName})`, () => {
    it('sync --once on a fresh database provisions the properties and writes every score back; nothing pending or parked', async () => {
      const { hubId, token } = portalWith(300, { token: 'pat-e2e-private-app' });
      const env = { ...(await databases.fresh('fresh')), HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token };
      // a brand-new portal: none of our properties exist yet
      expect([...sandbox.data.iterate(hubId, 'contacts')].filter((c) => c.properties['rapport_health'] !== undefined)).toEqual([]);

      const sync = await rapportInProcess(['sync', '--once'], env);
      expect(sync.stderr).toBe('');
      expect(sync.code).toBe(0);
      expect(sync.stdout).toMatch(new RegExp(`^hubspot:${hubId}: 300 contacts scored; 300 written back to the CRM$`, 'm'));

      // provisioned on connect, before the first write: 3 batches of 100, none refused and resent
      expect(sandbox.stats(hubId).byRoute['POST /crm/v3/objects/contacts/batch/update']).toBe(3);

      const status = await rapportInProcess(['status', '--json'], env);
      const [report] = JSON.parse(status.stdout) as Status;
      expect(report).toMatchObject({ portal: `hubspot:${hubId}`, scored: 300, outbox: { pending: 0, parked: 0 }, parkedReasons: [] });

      // Every contact in the CRM carries exactly the scores in the cache.
      const store = await connectStore(loadConfig(env, '/nonexistent/rapport.config.json'));
      try {
        let checked = 0;
        for (const contact of sandbox.data.iterate(hubId, 'contacts')) {
          const written = await store.outbox.lastWritten(`hubspot:${hubId}`, contact.id);
          expect(Object.keys(written).sort(), contact.id).toEqual([...SCORE_FIELDS].sort());
          for (const key of SCORE_FIELDS) expect(contact.properties[PROPERTY_OF[key].name], `${contact.id} ${key}`).toBe(written[key]);
          const score = await store.scores.get(`hubspot:${hubId}`, contact.id);
          expect(Number(contact.properties['rapport_churn_risk'])).toBe(Math.round(score?.churnRisk.value ?? -1));
          checked++;
        }
        expect(checked).toBe(300);
      } finally {
        await store.close();
      }

      // The rest of the README flow: retrain, rescore everyone, write the changes back.
      for (const args of [['train'], ['score', '--all'], ['sync', '--once']]) {
        const r = await rapportInProcess(args, env);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      }
      const after = JSON.parse((await rapportInProcess(['status', '--json'], env)).stdout) as Status;
      expect(after[0]?.outbox).toEqual({ pending: 0, parked: 0 });

      // and the report, built in a worker thread over its own read-only store
      const out = join(tmpdir(), `rapport-report-${process.pid}-${Date.now()}.html`);
      try {
        const report = await rapportInProcess(['report', '--out', out], env);
        expect(report.code, report.stderr).toBe(0);
        expect(readFileSync(out, 'utf8')).toContain(`hubspot:${hubId}`);
      } finally {
        rmSync(out, { force: true });
      }
    }, 120_000);

    it('rapport serve on a fresh database provisions on connect and its daemon writes every score back', async () => {
      const { hubId, token } = portalWith(120, { token: 'pat-e2e-serve' });
      const env = { ...(await databases.fresh('serve')), HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token, RAPPORT_PORT: '0' };
      const stop = new AbortController();
      const serving = rapportInProcess(['serve'], env, stop.signal);
      const portal = `hubspot:${hubId}`;
      let written = 0;
      const deadline = Date.now() + 90_000;
      try {
        while (written < 120 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          written = [...sandbox.data.iterate(hubId, 'contacts')].filter((c) => c.properties['rapport_health'] !== undefined).length;
        }
      } finally {
        stop.abort();
      }
      const served = await serving;
      expect(served.code, served.stderr).toBe(0);
      expect(written).toBe(120);
      expect(sandbox.stats(hubId).byRoute['POST /crm/v3/objects/contacts/batch/update']).toBe(2);
      const [report] = JSON.parse((await rapportInProcess(['status', '--json'], env)).stdout) as Status;
      expect(report).toMatchObject({ portal, scored: 120, outbox: { pending: 0, parked: 0 } });
    }, 120_000);

    it('without the schema scope: writes are parked with the reason, status says how to re-queue, `outbox retry` re-queues them', async () => {
      const scopes = DEFAULT_PRIVATE_APP_SCOPES.filter((s) => s !== 'crm.schemas.contacts.write');
      const { hubId, token } = portalWith(60, { token: 'pat-e2e-no-schema-write', scopes });
      const env = { ...(await databases.fresh('no-scope')), HUBSPOT_BASE_URL: baseUrl, HUBSPOT_ACCESS_TOKEN: token };

      const sync = await rapportInProcess(['sync', '--once'], env);
      expect(sync.code, sync.stderr).toBe(0); // reading works; only the write-back is refused
      expect(sync.stdout).toContain(`hubspot:${hubId}: 60 contacts scored; 0 written back to the CRM, 0 to retry, 60 parked (see \`rapport status\`)`);

      const json = JSON.parse((await rapportInProcess(['status', '--json'], env)).stdout) as Status;
      expect(json[0]?.outbox).toEqual({ pending: 0, parked: 60 });
      expect(json[0]?.parkedReasons).toEqual([
        { reason: 'invalid_request PROPERTY_DOESNT_EXIST; provisioning failed (forbidden MISSING_SCOPES)', count: 60 },
      ]);
      const human = await rapportInProcess(['status'], env);
      expect(human.stdout).toContain(
        `parked writes: 60 × invalid_request PROPERTY_DOESNT_EXIST; provisioning failed (forbidden MISSING_SCOPES); once the cause is fixed, re-queue them with \`rapport outbox retry --portal hubspot:${hubId}\``,
      );

      const retry = await rapportInProcess(['outbox', 'retry', '--portal', `hubspot:${hubId}`], env);
      expect(retry.code, retry.stderr).toBe(0);
      expect(retry.stdout).toBe(`hubspot:${hubId}: 60 parked writes re-queued; 60 pending, sent by the next \`rapport sync --once\` or the running \`rapport serve\`\n`);
      const requeued = JSON.parse((await rapportInProcess(['status', '--json'], env)).stdout) as Status;
      expect(requeued[0]?.outbox).toEqual({ pending: 60, parked: 0 });

      const bad = await rapportInProcess(['outbox', 'retry', '--portal', 'hubspot:nope!'], env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^rapport outbox retry: --portal "hubspot:nope!": expected hubspot:<hub id>/);
    }, 120_000);
  });
}
