import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { CrmConnector } from '../../src/connectors/types.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport } from '../../src/main.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { primaryTypeId, userLabelKey } from '../../src/sandbox/hubspot/association-types.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { openStore, type Store, type StoreLocation } from '../../src/store/index.ts';
import { diffStoreWithSandbox } from '../support/cache-vs-sandbox.ts';
import { rapportChild, rapportInProcess } from '../support/cli.ts';

/**
 * `rapport sync` against the sandbox over real HTTP with the real @hubspot/api-client (mostly
 * `--read-only`: the pull alone, since writing scores back changes the contacts' lastmodifieddate;
 * one test writes back and checks the pass after it): the cache must equal the sandbox exactly,
 * survive SIGKILL anywhere, converge under injected faults, and follow creates / updates /
 * deletes made between runs. The cache is read back through the store port, as an auditor with
 * a read-only store would.
 *
 * One suite, run per store: `test/e2e/sync.test.ts` on a SQLite file per test,
 * `test/postgres/sync.postgres.test.ts` on a Postgres database per test (RAPPORT_DATABASE_URL).
 */
export type DatabaseEnv = {
  /** the env that selects a fresh, empty store for one test (RAPPORT_DB=… or RAPPORT_DATABASE_URL=…) */
  fresh(label: string): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
};

/** Where the env's store is (what `connectStore` would open for it). */
export function locationOf(env: Record<string, string>): StoreLocation {
  const url = env['RAPPORT_DATABASE_URL'];
  if (url !== undefined) return { kind: 'postgres', url };
  const path = env['RAPPORT_DB'];
  if (path === undefined) throw new Error('the database env names no store');
  return { kind: 'sqlite', path };
}

/** Reads the env's store through a read-only store of its own (it never migrates nor writes), opened for this look. */
export async function look<T>(env: Record<string, string>, read: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(locationOf(env), { readonly: true });
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

export function syncSuite(storeName: string, makeDatabases: () => DatabaseEnv): void {
  let sandbox: HubspotSandbox;
  let baseUrl: string;
  let closeSandbox: () => Promise<void>;
  let hubId: number;
  let token: string;
  let databases: DatabaseEnv;

  beforeAll(async () => {
    databases = makeDatabases();
    // index lag off for the runs that check the cache right after a change; the issue-13 run turns it on
    ({ sandbox, baseUrl, close: closeSandbox } = await startHubspotSandbox({ limits: false, seed: 7, searchLagMs: 0 }));
    ({ hubId, token } = sandbox.portals.create({ privateAppToken: 'pat-e2e-sync' }));
    for (const batch of generateAccount({ seed: 11, contacts: 150, now: sandbox.clock.now() })) sandbox.data.load(hubId, batch);
  });
  afterAll(async () => {
    await closeSandbox();
    await databases.cleanup();
  });

  const envFor = (db: Record<string, string>, extra: Record<string, string> = {}) => ({
    ...db,
    HUBSPOT_BASE_URL: baseUrl,
    HUBSPOT_ACCESS_TOKEN: token,
    ...extra,
  });
  const portal = () => `hubspot:${hubId}`;
  const diff = (db: Record<string, string>) => look(db, (store) => diffStoreWithSandbox(store, sandbox, hubId));

  /** Records cached, live and tombstones; 0 while no run has created the store yet. */
  const rowCount = async (db: Record<string, string>): Promise<number> => {
    try {
      return await look(db, async (store) => Object.values(await store.records.counts(portal())).reduce((n, c) => n + c.live + c.deleted, 0));
    } catch {
      return 0;
    }
  };

  /**
   * What `rapport sync --once --read-only` runs, in this process, so a test can see what the CLI
   * does not print: the pages committed (onProgress fires once per committed page) and the
   * connector's retry count.
   */
  async function inProcessRapport(db: Record<string, string>) {
    let committedPages = 0;
    const config = loadConfig({ ...envFor(db), RAPPORT_HTTP_TIMEOUT_MS: '500' }, '/nonexistent/rapport.config.json');
    // small pages: many requests, so the storm hits many of them
    const rapport = await createRapport({ config, logger: silentLogger, pageSize: 25, onProgress: (p) => void (p.finishedAt === undefined && (committedPages += 1)) });
    const [portal] = await rapport.connectPortals();
    if (portal === undefined) throw new Error('the private-app portal did not connect');
    const connector = rapport.connector(portal) as (CrmConnector & { stats?: () => { retries: number } }) | undefined;
    const stats = connector?.stats;
    if (stats === undefined) throw new Error('the connector reports no retry count');
    return { rapport, portal, committedPages: () => committedPages, retries: () => stats().retries };
  }

  describe(`rapport sync --once (${storeName})`, () => {
    it('makes the cache equal the sandbox, then follows creates, updates and deletes incrementally', async () => {
      const db = await databases.fresh('full');
      const initial = await rapportInProcess(['sync', '--once', '--read-only', '--json'], envFor(db));
      expect(initial.stderr).toBe('');
      expect(initial.code).toBe(0);
      const summary = JSON.parse(initial.stdout) as { portals: { portal: string; streams: Record<string, { status: string }> }[] };
      expect(summary.portals[0]?.portal).toBe(`hubspot:${hubId}`);
      expect(Object.values(summary.portals[0]?.streams ?? {}).every((s) => s.status === 'ok')).toBe(true);
      expect(await diff(db)).toEqual([]);

      // Changes after the backfill: a new contact with a call, an updated deal, an archived ticket,
      // and an association change (which does not bump lastmodifieddate on HubSpot).
      sandbox.clock.advance(60_000);
      const c = sandbox.data.create(hubId, 'contacts', { email: 'New.Person@Example.com ', firstname: 'New' });
      sandbox.data.create(hubId, 'calls', { hs_timestamp: new Date(sandbox.clock.now()).toISOString(), hs_call_direction: 'INBOUND' }, [
        { type: 'contacts', id: c.id },
      ]);
      const first = <T>(xs: Iterable<T>): T | undefined => {
        for (const x of xs) return x;
        return undefined;
      };
      const deal = first(sandbox.data.iterate(hubId, 'deals'));
      const ticket = first(sandbox.data.iterate(hubId, 'tickets'));
      if (deal === undefined || ticket === undefined) throw new Error('generator made no deals or tickets');
      sandbox.data.update(hubId, 'deals', deal.id, { amount: '1234.50' });
      sandbox.data.archive(hubId, 'tickets', ticket.id);

      const second = await rapportInProcess(['sync', '--once', '--read-only', '--json'], envFor(db));
      expect(second.code).toBe(0);
      expect(await diff(db)).toEqual([]);
      const row = await look(db, (store) => store.records.get(portal(), 'contacts', c.id));
      // cleaned on ingest: trimmed and lower-cased, raw kept
      expect(row?.data).toMatchObject({ email: 'new.person@example.com', emailRaw: 'New.Person@Example.com ' });
    });

    it('after merges, a GDPR delete, user-defined labels and a 20 s search lag, one more sync makes the cache equal the sandbox again (issue 13)', async () => {
      const db = await databases.fresh('hubspot-habits');
      const initial = await rapportInProcess(['sync', '--once', '--read-only'], envFor(db));
      expect(initial.code, initial.stderr).toBe(0);
      expect(await diff(db)).toEqual([]);
      sandbox.setSearchLag(20_000);
      try {
        const contacts = [...sandbox.data.iterate(hubId, 'contacts')].slice(0, 6);
        const [survivor, loser, gdpr, labelled, other] = contacts;
        if (survivor === undefined || loser === undefined || gdpr === undefined || labelled === undefined || other === undefined) throw new Error('too few contacts');
        sandbox.clock.advance(60_000);
        sandbox.data.merge(hubId, 'contacts', survivor.id, loser.id);
        sandbox.data.purge(hubId, 'contacts', gdpr.id);
        // a user-defined label (typeId 5, "Billing contact") to another company must not become the primary
        const company = [...sandbox.data.iterate(hubId, 'companies')].at(-1);
        if (company === undefined) throw new Error('no company');
        sandbox.data.associate(hubId, 'contacts', labelled.id, 'companies', company.id, 5);
        // (an association change alone bumps no modification time: webhooks or the 6-hourly sweep
        // bring it; here both records are also edited, so the incremental search finds them)
        sandbox.data.update(hubId, 'contacts', labelled.id, { firstname: 'Labelled' });
        sandbox.data.update(hubId, 'companies', company.id, { name: 'Billing Co' });
        sandbox.data.update(hubId, 'contacts', other.id, { firstname: 'Lagged' });
        // past the lag, within the 30 s lookback
        sandbox.clock.advance(25_000);
        const second = await rapportInProcess(['sync', '--once', '--read-only'], envFor(db));
        expect(second.code, second.stderr).toBe(0);
        expect(await diff(db)).toEqual([]);
        const [loserRow, gdprRow] = await look(db, (store) => Promise.all([loser.id, gdpr.id].map((id) => store.records.get(portal(), 'contacts', id))));
        expect(loserRow?.deleted).toBe(true);
        expect(loserRow?.mergedInto).toBe(survivor.id);
        expect(gdprRow?.deleted).toBe(true);
      } finally {
        sandbox.setSearchLag(0);
      }
    }, 60_000);

    it('a write-back run after merges, a GDPR delete, label and primary-company changes under a 20 s lag: the cache equals the sandbox, and the next write-back pass writes nothing (issue 13)', async () => {
      const db = await databases.fresh('write-back');
      // every score write the sandbox applies (its own change feed: rapport_* property changes made through the API)
      let written = 0;
      const off = sandbox.data.onChange((e) => {
        if (e.hubId === hubId && e.source === 'api' && e.kind === 'propertyChange' && e.propertyName?.startsWith('rapport_') === true) written++;
      });
      const batches = () => sandbox.stats(hubId).byRoute['POST /crm/v3/objects/contacts/batch/update'] ?? 0;
      try {
        const first = await rapportInProcess(['sync', '--once'], envFor(db));
        expect(first.code, first.stderr).toBe(0);
        expect(written).toBeGreaterThan(0);
        sandbox.setSearchLag(20_000);
        const live = [...sandbox.data.iterate(hubId, 'contacts')].slice(10, 20);
        const [survivor, loser, gdpr, labelled, moved] = live;
        if (survivor === undefined || loser === undefined || gdpr === undefined || labelled === undefined || moved === undefined) throw new Error('too few contacts');
        const companies = [...sandbox.data.iterate(hubId, 'companies')];
        const [billing, employer] = [companies.at(-2), companies.at(-1)];
        if (billing === undefined || employer === undefined) throw new Error('too few companies');
        sandbox.clock.advance(60_000);
        sandbox.data.merge(hubId, 'contacts', survivor.id, loser.id);
        sandbox.data.purge(hubId, 'contacts', gdpr.id);
        // user-defined labels whose typeIds are primary ids of other pairs (5, 26) and of this pair (1, "Decision maker")
        for (const label of ['Billing contact', 'Former employer', 'Decision maker']) {
          sandbox.data.associate(hubId, 'contacts', labelled.id, 'companies', billing.id, userLabelKey('contacts', 'companies', label));
        }
        // a new primary company replaces the old one
        sandbox.data.associate(hubId, 'contacts', moved.id, 'companies', employer.id, primaryTypeId('contacts', 'companies'));
        // association changes bump no modification time (webhooks or the 6-hourly sweep bring them alone); edited too, the search finds them
        sandbox.data.update(hubId, 'contacts', labelled.id, { firstname: 'Labelled' });
        sandbox.data.update(hubId, 'contacts', moved.id, { firstname: 'Moved' });
        sandbox.data.update(hubId, 'companies', billing.id, { name: 'Billing Co' });
        sandbox.data.update(hubId, 'companies', employer.id, { name: 'Employer' });
        sandbox.clock.advance(25_000);
        const second = await rapportInProcess(['sync', '--once'], envFor(db));
        expect(second.code, second.stderr).toBe(0);

        // the next pass, once the second pass's own writes are searchable: it reads them back and writes nothing
        sandbox.clock.advance(25_000);
        const [writesBefore, batchesBefore] = [written, batches()];
        const third = await rapportInProcess(['sync', '--once', '--json'], envFor(db));
        expect(third.code, third.stderr).toBe(0);
        expect(written - writesBefore).toBe(0);
        expect(batches() - batchesBefore).toBe(0);
        expect(await diff(db)).toEqual([]);

        const [[loserRow, gdprRow, labelledRow, movedRow], outbox] = await look(db, (store) =>
          Promise.all([Promise.all([loser.id, gdpr.id, labelled.id, moved.id].map((id) => store.records.get(portal(), 'contacts', id))), store.outbox.stats(portal())]),
        );
        expect(loserRow?.deleted).toBe(true);
        expect(loserRow?.mergedInto).toBe(survivor.id);
        expect(gdprRow?.deleted).toBe(true);
        expect(labelledRow?.companyId).not.toBe(billing.id);
        expect(movedRow?.companyId).toBe(employer.id);
        expect(outbox).toEqual({ pending: 0, parked: 0 });
        // the survivor carries scores; nothing was ever written to the merged or purged ids after they went
        expect(sandbox.data.get(hubId, 'contacts', survivor.id)?.properties.rapport_health).toMatch(/^(green|yellow|red)$/);
      } finally {
        off();
        sandbox.setSearchLag(0);
      }
    }, 120_000);

    it('survives SIGKILL at five points of a backfill: every rerun resumes, the end result equals the sandbox', async () => {
      const db = await databases.fresh('crash');
      const total = [...['companies', 'contacts', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions']].reduce(
        // live records plus tombstones of archived ones (a backfill lists archived records too)
        (n, t) => n + sandbox.data.count(hubId, t as 'contacts') + sandbox.data.count(hubId, t as 'contacts', { archived: true }),
        0,
      );
      const kills: number[] = [];
      for (const fraction of [0.1, 0.25, 0.45, 0.65, 0.85]) {
        const { child, done } = rapportChild(['sync', '--once', '--read-only'], envFor(db));
        // Kill once the cache has crossed this fraction of the account and this run has committed something of its
        // own (read concurrently: WAL, or MVCC on Postgres); a slow poll may let the previous run overshoot the target.
        const before = kills.at(-1) ?? 0;
        for (;;) {
          await new Promise((r) => setTimeout(r, 15));
          if (child.exitCode !== null) break;
          const rows = await rowCount(db);
          if (rows >= fraction * total && rows > before) {
            child.kill('SIGKILL');
            break;
          }
        }
        const r = await done;
        expect(r.signal, `run ${kills.length + 1} finished before it could be killed: ${r.stderr}`).toBe('SIGKILL');
        kills.push(await rowCount(db));
      }
      // five different points, each one further on: every rerun resumed and committed more
      expect(kills).toEqual([...kills].sort((a, b) => a - b));
      expect(new Set(kills).size).toBe(5);
      const last = await rapportInProcess(['sync', '--once', '--read-only'], envFor(db));
      expect(last.code, last.stderr).toBe(0);
      expect(await diff(db)).toEqual([]);
      // no duplicates: the primary key would refuse them, and the row count matches the sandbox
      expect(await rowCount(db)).toBe(total);
    }, 120_000);

    it('stops cleanly on SIGTERM mid-backfill: exit 0, the page in hand committed, the next run completes', async () => {
      const db = await databases.fresh('sigterm');
      // Slow the account down (20 requests / 10 s) so the backfill is surely in progress.
      sandbox.setLimits({ per10s: 20, searchPerSecond: 5 });
      try {
        const { child, done } = rapportChild(['sync'], envFor(db, { HUBSPOT_RATE_LIMIT: '20' }));
        while ((await rowCount(db)) < 300 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
        child.kill('SIGTERM');
        const r = await done;
        expect(r.signal).toBeNull();
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/SIGTERM received/);
      } finally {
        sandbox.setLimits(false);
      }
      const saved = await look(db, (store) => store.cursors.list(portal()));
      expect(saved.length).toBeGreaterThan(0);
      const rest = await rapportInProcess(['sync', '--once', '--read-only'], envFor(db));
      expect(rest.code, rest.stderr).toBe(0);
      expect(await diff(db)).toEqual([]);
    }, 60_000);

    it('under a storm of 429s, 500s and timeouts, one pass retries every fault and commits the whole account while the faults are still on', async () => {
      const storm = await inProcessRapport(await databases.fresh('storm'));
      try {
        // the storm starts after connecting: what is under test is the sync pass
        sandbox.setFaults({ '429': 0.05, '500': 0.05, timeout: 0.02 });
        const faultsBefore = sandbox.stats(hubId).faults;
        const pass = await storm.rapport.daemon.runOnce(storm.portal, { score: false, writeBack: false });
        const faults = sandbox.stats(hubId).faults - faultsBefore;
        // still inside the storm (faults are turned off in finally): this pass did the work, not a later clean run
        expect(pass.error).toBeUndefined();
        expect(pass.streams.filter((st) => st.status !== 'ok')).toEqual([]);
        expect(faults).toBeGreaterThan(5);
        // every injected fault is a retryable failure of one attempt: each must have been retried
        expect(storm.retries()).toBe(faults);
        expect(storm.committedPages()).toBeGreaterThan(sandbox.data.count(hubId, 'contacts') / 25);
        expect(await diffStoreWithSandbox(storm.rapport.store, sandbox, hubId)).toEqual([]);
      } finally {
        sandbox.setFaults({});
        await storm.rapport.close();
      }
    }, 180_000);

    it('with malformed bodies too, passes during the storm fail only as bad_response and converge while the faults are still on', async () => {
      const storm = await inProcessRapport(await databases.fresh('malformed'));
      try {
        sandbox.setFaults({ '429': 0.05, '500': 0.05, timeout: 0.02, malformed: 0.02 });
        const faultsBefore = sandbox.stats(hubId).faults;
        const failures: string[] = [];
        let converged = false;
        // Malformed bodies are not retried (bad_response): a pass may end with a failed stream,
        // and the next pass resumes from its last committed page.
        for (let i = 0; i < 10 && !converged; i++) {
          const pass = await storm.rapport.daemon.runOnce(storm.portal, { score: false, writeBack: false });
          expect(pass.error).toBeUndefined();
          const failed = pass.streams.filter((st) => st.status !== 'ok');
          for (const f of failed) failures.push(`${f.status}:${f.error?.kind ?? 'none'}`);
          converged = failed.length === 0;
        }
        expect(converged).toBe(true);
        expect(failures.filter((f) => f !== 'failed:bad_response')).toEqual([]);
        expect(storm.retries()).toBeGreaterThan(0);
        expect(storm.retries()).toBeLessThanOrEqual(sandbox.stats(hubId).faults - faultsBefore);
        expect(await diffStoreWithSandbox(storm.rapport.store, sandbox, hubId)).toEqual([]);
      } finally {
        sandbox.setFaults({});
        await storm.rapport.close();
      }
    }, 180_000);
  });

  describe(`rapport sync: bad input is refused with a clear message, a distinct exit code and nothing written (${storeName})`, () => {
    it('rejected token → 4', async () => {
      const db = await databases.fresh('badtoken');
      const r = await rapportInProcess(['sync', '--once'], envFor(db, { HUBSPOT_ACCESS_TOKEN: 'pat-wrong' }));
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/rejected the access token/);
      expect(r.stderr).not.toContain('pat-wrong');
      expect(await rowCount(db)).toBe(0);
    });

    it('unreachable base URL → 5', async () => {
      const db = await databases.fresh('unreachable');
      const r = await rapportInProcess(['sync', '--once'], envFor(db, { HUBSPOT_BASE_URL: 'http://127.0.0.1:9' }));
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/could not be reached/);
      expect(await rowCount(db)).toBe(0);
    });

    it('missing scopes → 6', async () => {
      const db = await databases.fresh('scopes');
      const limited = sandbox.portals.create({ privateAppToken: 'pat-no-tickets', scopes: ['crm.objects.contacts.read', 'crm.objects.companies.read'] });
      const r = await rapportInProcess(['sync', '--once'], envFor(db, { HUBSPOT_ACCESS_TOKEN: limited.token }));
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/lacks a required scope/);
      expect(await rowCount(db)).toBe(0);
    });

    it('an unknown stream or flag → 2 with usage', async () => {
      const r = await rapportInProcess(['sync', '--streams', 'widgets'], envFor(await databases.fresh('x')));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown stream/);
    });
  });
}
