import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { freePort } from '../../src/commands/demo.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createFakeConnector, type FakeConnector } from '../../src/connectors/fake.ts';
import type { ConnectorAuth, CrmProvider } from '../../src/connectors/provider.ts';
import { registryWith } from '../../src/connectors/registry.ts';
import { CrmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport, type Rapport } from '../../src/main.ts';
import { createBrowser } from '../support/browser.ts';

/**
 * A third CRM, added by this test alone (no shared file knows it): a provider built on the
 * contract-verified fake connector (test/contract/fake.contract.test.ts), with its OAuth served by
 * a loopback authorization server here. It goes through the same routes and daemon as HubSpot and
 * Salesforce: GET /oauth/acme/install → authorize → callback with a code → tokens stored encrypted
 * → backfill → score → write-back, and the fake CRM receives the scores of its contacts.
 *
 * One suite, run per store: `test/e2e/third-provider.test.ts` on a SQLite file,
 * `test/postgres/third-provider.postgres.test.ts` on a Postgres database (RAPPORT_DATABASE_URL).
 */
export type SuiteDatabase = { env: Record<string, string>; cleanup(): Promise<void> };

export function thirdProviderSuite(storeName: string, makeDatabase: () => Promise<SuiteDatabase>): void {
  let database: SuiteDatabase;
  const CONTACTS = 40;
  const ACCOUNT = '7001';
  const PORTAL = `acme:${ACCOUNT}`;
  let t = Date.UTC(2026, 0, 15);
  const now = () => t;

  /** The acme authorization server: /authorize redirects back with a code, /token trades it (form-encoded, RFC 6749 §4.1.3). */
  const issued = { codes: new Set<string>(), accessTokens: [] as string[], exchanges: 0 };
  let idp: Server;
  let idpUrl: string;
  function startIdp(clientId: string, clientSecret: string): Promise<void> {
    idp = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && u.pathname === '/authorize') {
        const code = randomBytes(8).toString('hex');
        issued.codes.add(code);
        const back = new URL(u.searchParams.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', u.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.toString() }).end();
        return;
      }
      if (req.method === 'POST' && u.pathname === '/token') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const f = new URLSearchParams(body);
          const grant =
            f.get('grant_type') === 'authorization_code' ? issued.codes.delete(f.get('code') ?? '') : f.get('grant_type') === 'refresh_token' && f.get('refresh_token') === 'acme-rt';
          const ok = f.get('client_id') === clientId && f.get('client_secret') === clientSecret && grant;
          if (!ok) {
            res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant' }));
            return;
          }
          issued.exchanges += 1;
          const access = `acme-at-${randomBytes(6).toString('hex')}`;
          issued.accessTokens.push(access);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: access, refresh_token: 'acme-rt', expires_in: 3600, account: ACCOUNT }));
        });
        return;
      }
      res.writeHead(404).end();
    });
    return new Promise((resolve) => idp.listen(0, '127.0.0.1', () => ((idpUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`), resolve())));
  }

  // ------------------------------------------------------------------ the provider

  const acmeEnv = z.object({ ACME_CLIENT_ID: z.string().min(1), ACME_CLIENT_SECRET: z.string().min(1) });
  const acmeSettings = acmeEnv.transform((v) => ({ clientId: v.ACME_CLIENT_ID, clientSecret: v.ACME_CLIENT_SECRET }));
  type AcmeSettings = z.output<typeof acmeSettings>;
  const tokenAnswer = z.object({ access_token: z.string(), refresh_token: z.string(), expires_in: z.number(), account: z.string() });

  const fakes = new Map<string, FakeConnector>();
  const auths = new Map<string, ConnectorAuth>();

  async function tokenCall(fields: Record<string, string>, fetchFn: typeof fetch = fetch): Promise<z.output<typeof tokenAnswer>> {
    const res = await fetchFn(`${idpUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    if (!res.ok) throw new CrmError('auth', `acme token endpoint answered ${res.status}`, { crm: 'acme', status: res.status });
    return tokenAnswer.parse(await res.json());
  }

  const acmeProvider: CrmProvider<AcmeSettings> = {
    name: 'acme',
    label: 'Acme CRM',
    config: { keys: Object.keys(acmeEnv.shape), secretKeys: ['ACME_CLIENT_SECRET'], schema: acmeSettings },
    oauth: {
      missing: () => [],
      authorizeUrl: (s, p) => `${idpUrl}/authorize?${new URLSearchParams({ client_id: s.clientId, redirect_uri: p.redirectUri, state: p.state })}`,
      async exchange(s, p) {
        const a = await tokenCall({ grant_type: 'authorization_code', code: p.code, redirect_uri: p.redirectUri, client_id: s.clientId, client_secret: s.clientSecret });
        return {
          ok: true,
          installation: { portal: `acme:${a.account}`, crm: 'acme', externalId: a.account, baseUrl: idpUrl, scopes: ['contacts'] },
          tokens: { accessToken: a.access_token, refreshToken: a.refresh_token, expiresAt: p.now + a.expires_in * 1000 },
        };
      },
      async refresh(s, p) {
        const a = await tokenCall({ grant_type: 'refresh_token', refresh_token: p.refreshToken, client_id: s.clientId, client_secret: s.clientSecret });
        return { accessToken: a.access_token, refreshToken: a.refresh_token, expiresAt: p.now + a.expires_in * 1000 };
      },
    },
    createConnector(installation, auth) {
      const fake = fakes.get(installation.portal);
      if (fake === undefined) throw new Error(`no fake account ${installation.portal}`);
      auths.set(installation.portal, auth);
      return fake;
    },
    provisionOnConnect: false,
    hints: { explain: (e) => `Acme CRM: ${e.kind}: ${e.message}`, refreshRefused: 'the Acme grant was revoked' },
  };

  /** An account: contacts with a company, deals and tickets, as the fake port returns them. */
  function seed(fake: FakeConnector): string[] {
    const day = 86_400_000;
    const ids: string[] = [];
    fake.put({ type: 'companies', id: 'co-1', data: { name: 'Acme Buyers', domain: 'buyers.example', industry: null, employees: 40, annualRevenue: null, createdAt: t - 900 * day }, updatedAt: t - 900 * day });
    for (let i = 1; i <= CONTACTS; i++) {
      const id = `c-${String(i).padStart(3, '0')}`;
      ids.push(id);
      const created = t - (400 + i * 7) * day;
      fake.put({
        type: 'contacts',
        id,
        companyId: 'co-1',
        data: { email: `p${i}@buyers.example`, emailRaw: `p${i}@buyers.example`, phone: null, phoneRaw: null, firstName: `P${i}`, lastName: 'Buyer', createdAt: created, lifecycleStage: 'customer' },
        updatedAt: created,
      });
      for (let d = 0; d < 1 + (i % 4); d++) {
        const closed = t - (20 + i * 5 + d * 90) * day;
        fake.put({
          type: 'deals',
          id: `d-${i}-${d}`,
          contactIds: [id],
          companyId: 'co-1',
          data: { amount: 500 + i * 25, amountRaw: String(500 + i * 25), stage: 'closedwon', isClosed: true, isClosedWon: true, closedAt: closed, createdAt: closed - 10 * day },
          updatedAt: closed,
        });
      }
      if (i % 3 === 0) {
        const opened = t - (30 + i) * day;
        fake.put({
          type: 'tickets',
          id: `t-${i}`,
          contactIds: [id],
          companyId: 'co-1',
          data: { priority: i % 2 === 0 ? 'HIGH' : 'LOW', stage: 'closed', isClosed: true, createdAt: opened, closedAt: opened + 2 * day, timeToCloseMs: 2 * day, reopenedCount: 0, source: 'EMAIL', subject: 'Invoice question', content: 'Thanks, that solved it.' },
          updatedAt: opened + 2 * day,
        });
      }
    }
    return ids;
  }

  let config: Config;
  let rapport: Rapport;
  let contactIds: string[];

  beforeAll(async () => {
    database = await makeDatabase();
    const app = { clientId: 'acme-client', clientSecret: randomBytes(12).toString('hex') };
    await startIdp(app.clientId, app.clientSecret);
    const fake = createFakeConnector({ portal: PORTAL, now, pageSize: 25 });
    fakes.set(PORTAL, fake);
    contactIds = seed(fake);
    const providers = registryWith(acmeProvider);
    config = loadConfig(
      {
        ...database.env,
        RAPPORT_PORT: String(await freePort()),
        RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        ACME_CLIENT_ID: app.clientId,
        ACME_CLIENT_SECRET: app.clientSecret,
      },
      '/nonexistent.json',
      {},
      providers,
    );
    rapport = await createRapport({ config, logger: silentLogger, now, providers });
  }, 60_000);

  afterAll(async () => {
    await rapport?.close().catch(() => {});
    await new Promise<void>((r) => (idp === undefined ? r() : idp.close(() => r())));
    await database.cleanup();
  });

  describe(`a third CRM registered by a test (${storeName})`, () => {
    it('installs through /oauth/acme, backfills, scores and writes the scores back to the fake CRM', async () => {
      expect(await rapport.connectPortals()).toEqual([]);
      let backfill: Promise<void> | undefined;
      rapport.onPortalReady((_p, done) => {
        backfill = done;
      });
      const { url } = await rapport.listen(config.port);

      const browser = createBrowser();
      const go = await browser.get(`${url}/oauth/acme/install`);
      expect(go.status).toBe(302);
      const authorize = go.headers.get('location') ?? '';
      expect(authorize.startsWith(`${idpUrl}/authorize?`)).toBe(true);
      expect(new URL(authorize).searchParams.get('redirect_uri')).toBe(`${url}/oauth/acme/callback`);
      const back = await browser.get(authorize);
      const callback = back.headers.get('location') ?? '';
      expect(callback.startsWith(`${url}/oauth/acme/callback?`)).toBe(true);
      const done = await browser.get(callback);
      expect(done.status).toBe(200);
      expect(await done.text()).toContain(`Acme CRM account ${ACCOUNT} is connected`);
      expect(issued.exchanges).toBe(1);

      // the portals row and the encrypted tokens, as for any CRM; the connector reads them through the token manager
      expect(await rapport.store.portals.get(PORTAL)).toMatchObject({ crm: 'acme', status: 'connected', externalId: ACCOUNT });
      expect((await rapport.store.portals.tokens(PORTAL))?.accessToken).toBe(issued.accessTokens[0]);
      expect(await auths.get(PORTAL)?.accessToken()).toBe(issued.accessTokens[0]);

      expect(backfill).toBeDefined();
      await backfill;
      await rapport.daemon.idle();
      const fake = fakes.get(PORTAL)!;
      expect(fake.provisioned).toBe(true); // provisioned at install, as every CRM is
      expect((await rapport.store.records.ids(PORTAL, 'contacts')).sort()).toEqual(contactIds);
      // every fake contact received its scores, written through the fake port
      expect([...fake.written.keys()].sort()).toEqual(contactIds);
      for (const id of contactIds) {
        const props = fake.written.get(id) ?? {};
        expect(Object.keys(props).length, id).toBeGreaterThan(3);
        expect(Object.values(props).some((v) => /^\d+(\.\d+)?$/.test(v ?? '')), id).toBe(true);
      }
    }, 120_000);

    it('refreshes an expiring token through the provider and keeps unknown CRMs out', async () => {
      t += 3600_000; // the stored token is now past its expiry: the token manager refreshes it
      const fresh = await auths.get(PORTAL)?.accessToken();
      expect(fresh).toBe(issued.accessTokens[1]);
      expect((await rapport.store.portals.tokens(PORTAL))?.accessToken).toBe(fresh);
      expect((await fetch(`http://127.0.0.1:${config.port}/oauth/nope/install`, { redirect: 'manual' })).status).toBe(404);
    });
  });
}
