import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/commands/demo.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport, type Rapport } from '../../src/main.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createBrowser } from '../support/browser.ts';

/**
 * Salesforce in `rapport serve` / `rapport sync`, over real HTTP against the emulator: the OAuth
 * install through Rapport's own /oauth/salesforce routes → portal row + encrypted tokens → the
 * first pass (provision, backfill, train, score, write-back to the org); then a fresh process
 * (`createRapport` on the same database) connects the stored portal, survives an expired session
 * in the middle of a backfill without losing a page, and a revoked grant disconnects the portal.
 *
 * One suite, run per store: `test/e2e/salesforce-serve.test.ts` on a SQLite file,
 * `test/postgres/salesforce-serve.postgres.test.ts` on a Postgres database (RAPPORT_DATABASE_URL).
 */
export type SuiteDatabase = {
  env: Record<string, string>;
  /** everything the store holds, as stored (the tokens must not be in it in clear) */
  bytes(): Promise<Buffer>;
  cleanup(): Promise<void>;
};

export function salesforceServeSuite(storeName: string, makeDatabase: () => Promise<SuiteDatabase>): void {
  let database: SuiteDatabase;
  const APP = { clientId: 'rapport-sf-e2e', clientSecret: randomBytes(16).toString('hex') };
  let sandbox: SalesforceSandbox;
  let closeSandbox: () => Promise<void>;
  let config: Config;
  let portal: string;
  let hostUrls: string[];
  const open: Rapport[] = [];

  const start = async (pageSize?: number): Promise<Rapport> => {
    const r = await createRapport({ config, logger: silentLogger, now: () => sandbox.clock.now(), ...(pageSize === undefined ? {} : { pageSize }) });
    open.push(r);
    return r;
  };
  const liveContacts = () => sandbox.data.rows('Contact').filter((c) => !c['IsDeleted']);
  const unscored = () => liveContacts().filter((c) => c['Rapport_Health__c'] == null).length;

  beforeAll(async () => {
    database = await makeDatabase();
    let baseUrl: string;
    ({ sandbox, baseUrl, hostUrls, close: closeSandbox } = await startSalesforceSandbox({ oauth: APP, seed: 4, extraHosts: 1 }));
    for (const b of generateAccount({ seed: 4, contacts: 60, now: sandbox.clock.now() })) sandbox.loader.load(b);
    const port = await freePort();
    config = loadConfig(
      {
        ...database.env,
        RAPPORT_PORT: String(port),
        RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        SALESFORCE_LOGIN_URL: baseUrl,
        SALESFORCE_CLIENT_ID: APP.clientId,
        SALESFORCE_CLIENT_SECRET: APP.clientSecret,
      },
      '/nonexistent.json',
    );
  }, 60_000);

  afterAll(async () => {
    for (const r of open) await r.close().catch(() => {});
    await closeSandbox();
    await database.cleanup();
  });

  describe(`Salesforce through rapport serve (${storeName})`, () => {
    it('installs through /oauth/salesforce, stores the tokens encrypted and writes scores back to the org', async () => {
      let backfill: Promise<void> | undefined;
      const rapport = await start();
      expect(await rapport.connectPortals()).toEqual([]);
      rapport.onPortalReady((_p, done) => {
        backfill = done;
      });
      const { url } = await rapport.listen(config.port);

      const browser = createBrowser(); // keeps the install's state cookie, as the admin's browser does
      const go = await browser.get(`${url}/oauth/salesforce/install`);
      const approved = await browser.get(go.headers.get('location') ?? '');
      const done = await browser.get(approved.headers.get('location') ?? '');
      expect(done.status).toBe(200);
      portal = `salesforce:${sandbox.orgId}`;
      expect(await rapport.store.portals.get(portal)).toMatchObject({ crm: 'salesforce', status: 'connected', baseUrl: config.salesforce.loginUrl });
      expect(backfill).toBeDefined();
      await backfill;
      await rapport.daemon.idle();

      expect(liveContacts().length).toBe(60);
      expect(unscored()).toBe(0);
      expect(await rapport.store.scores.get(portal, String(liveContacts()[0]?.['Id']))).toBeDefined();

      const tokens = await rapport.store.portals.tokens(portal);
      await rapport.close();
      const db = await database.bytes();
      expect(db.includes(Buffer.from(portal))).toBe(true);
      for (const secret of [tokens?.accessToken, tokens?.refreshToken]) {
        expect(secret?.length).toBeGreaterThan(20);
        expect(db.includes(Buffer.from(secret ?? '-'))).toBe(false);
      }
    }, 60_000);

    it('a restarted Rapport connects the stored org; an expired session is refreshed without losing a page', async () => {
      for (let i = 0; i < 450; i++) sandbox.data.create('Contact', { Email: `late${i}@example.com`, FirstName: `Late${i}`, LastName: 'Test' });
      const rapport = await start(200);
      expect(await rapport.connectPortals()).toEqual([portal]);
      const connector = rapport.connector(portal);
      if (connector === undefined) throw new Error('no connector');
      const before = await rapport.store.portals.tokens(portal);

      // a full read of contacts, with every session expiring after the first page
      const seen = new Set<string>();
      let pages = 0;
      for await (const page of connector.changes('contacts', null, AbortSignal.timeout(30_000))) {
        pages += 1;
        for (const r of page.records) seen.add(r.id);
        if (pages === 1) sandbox.sessions.expireAccessTokens();
      }
      expect(pages).toBeGreaterThan(2);
      expect(seen.size).toBe(510);
      const after = await rapport.store.portals.tokens(portal);
      expect(after?.accessToken).not.toBe(before?.accessToken);
      expect(after?.refreshToken).toBe(before?.refreshToken);

      // and the daemon's incremental pass picks up the new contacts, scores them and writes them back;
      // the session expires again (later than the token manager's "just refreshed" window)
      sandbox.clock.advance(60_000);
      sandbox.sessions.expireAccessTokens();
      const summary = await rapport.daemon.runOnce(portal);
      expect(summary.error).toBeUndefined();
      expect(summary.streams.filter((s) => s.status !== 'ok')).toEqual([]);
      expect(summary.writeBack?.error).toBeUndefined();
      expect(liveContacts().length).toBe(510);
      expect(unscored()).toBe(0);
    }, 60_000);

    it('the org moves to a new My Domain: the daemon refreshes, stores the new instance URL and syncs there', async () => {
      const rapport = open.at(-1);
      if (rapport === undefined) throw new Error('no rapport');
      sandbox.renameMyDomain(hostUrls[0]!); // the old host no longer serves the API
      sandbox.clock.advance(60_000);
      const created = sandbox.data.create('Contact', { Email: 'moved@example.com', LastName: 'Test' }).Id as string;
      const summary = await rapport.daemon.runOnce(portal);
      expect(summary.error).toBeUndefined();
      expect(summary.streams.filter((s) => s.status !== 'ok')).toEqual([]);
      expect(await rapport.store.portals.get(portal)).toMatchObject({ status: 'connected', baseUrl: hostUrls[0] });
      expect(sandbox.data.get('Contact', created)?.['Rapport_Health__c']).not.toBeNull();
    }, 60_000);

    it('a revoked grant disconnects the portal, and a restart no longer connects it', async () => {
      const rapport = open.at(-1);
      if (rapport === undefined) throw new Error('no rapport');
      sandbox.sessions.revokeAll(); // the admin revoked the connected app
      sandbox.data.create('Contact', { Email: 'after-revoke@example.com', LastName: 'Test' });
      const summary = await rapport.daemon.runOnce(portal);
      expect(summary.error?.kind).toBe('auth');
      expect((await rapport.store.portals.get(portal))?.status).toBe('disconnected');
      await rapport.close();

      const restarted = await start();
      expect(await restarted.connectPortals()).toEqual([]);
    }, 60_000);
  });
}
