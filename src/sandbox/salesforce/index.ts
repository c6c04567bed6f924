import { Hono } from 'hono';
import { createClock, type SandboxClock } from '../hubspot/clock.ts';
import { createRandom } from '../../stats/random.ts';
import { randomBytes } from 'node:crypto';
import { createAdminRoutes } from './admin.ts';
import { createChangeEventLog, type ChangeEventLog } from './cdc.ts';
import { createCometd } from './cometd.ts';
import { createSalesforceApi, DEFAULT_ORG_SETTINGS, type SalesforceOrgSettings } from './api.ts';
import { createSalesforceLoader, type SalesforceLoader } from './load.ts';
import { salesforceId } from './objects.ts';
import { createSalesforceSessions, type SalesforceOAuthApp, type SalesforceSessions } from './sessions.ts';
import { createSalesforceStorage, type SalesforceData } from './storage.ts';
import { serveEmulator } from '../serve.ts';
import { createWriteCounts, type WriteCount } from '../hubspot/write-counts.ts';

export type { SalesforceData, SalesforceChange, Row, FieldValue } from './storage.ts';
export type { SalesforceSessions, SalesforceOAuthApp } from './sessions.ts';
export type { SalesforceLoader } from './load.ts';
export { RAPPORT_CONTACT_FIELDS, SOBJECTS } from './objects.ts';
export { DEFAULT_ORG_SETTINGS, type SalesforceOrgSettings } from './api.ts';

/**
 * A local Salesforce org (ARCHITECTURE §7): the REST subset Rapport's connector uses through
 * jsforce, strictly (api.ts lists it; anything else is 501 naming the request), with
 * Salesforce-shaped errors, query locators, the daily API budget in `Sforce-Limit-Info`, OAuth
 * token endpoints, fault injection and a controllable clock. One emulator = one org; records live
 * in memory.
 */
export type SalesforceFaults = {
  /** probability of 403 REQUEST_LIMIT_EXCEEDED (Salesforce's rate-limit answer; jsforce does not retry it) */
  requestLimit?: number | undefined;
  /** probability of 500 UNKNOWN_EXCEPTION */
  serverError?: number | undefined;
  /** probability of a truncated 200 body */
  malformed?: number | undefined;
};

export type SalesforceSandboxOptions = {
  clock?: SandboxClock;
  /** 18-character org id; default a fixed emulated one */
  orgId?: string;
  /** the connected app; without it any client id is accepted */
  oauth?: SalesforceOAuthApp;
  /** daily API request allowance (Enterprise Edition starts at 100,000) */
  dailyLimit?: number;
  /** whether the Rapport_*__c Contact fields are deployed (default true) */
  rapportFields?: boolean;
  faults?: SalesforceFaults;
  /** how the org differs from a fresh one: validation rules, triggers, API versions… (api.ts) */
  org?: Partial<SalesforceOrgSettings>;
  seed?: number;
  sessionTimeoutMs?: number;
  /** token for the `/_sandbox/*` admin API (admin.ts); default random, read it from `sandbox.adminToken` */
  adminToken?: string;
  /** Change Data Capture (cdc.ts, cometd.ts): entities selected in Setup, how long a long poll is held */
  cdc?: { entities?: readonly string[]; holdMs?: number; maxEvents?: number };
};

export type SalesforceStats = {
  requests: number;
  rateLimited: number;
  faults: number;
  byRoute: Record<string, number>;
  apiUsage: { used: number; limit: number };
  /** data API requests being answered now (an aborted client request leaves at once) */
  inFlight: number;
  /** sObject Collections updates applied whose answer was lost (`loseWriteAnswers`) */
  lostAnswers: number;
};

export type SalesforceSandbox = {
  app: Hono;
  clock: SandboxClock;
  orgId: string;
  data: SalesforceData;
  sessions: SalesforceSessions;
  /** maps generator batches onto the org (load.ts) */
  loader: SalesforceLoader;
  /** the `/_sandbox/*` admin token */
  adminToken: string;
  /** the org's change event bus (Change Data Capture) */
  cdc: ChangeEventLog;
  setFaults(f: SalesforceFaults): void;
  setRapportFields(deployed: boolean): void;
  /** changes org settings (the rest stay as they are) */
  configure(settings: Partial<SalesforceOrgSettings>): void;
  /**
   * A long-running transaction (a bulk load, a flow) starts now: until `commit`, getUpdated's
   * latestDateCovered stays at its start. Rows it writes carry that start as their SystemModstamp
   * (`data.create(…, { at: tx.at })` just before commit): they appear after later changes.
   */
  beginLongTransaction(): { at: number; commit(): void };
  /**
   * A test probe (not Salesforce behaviour): per record of an sObject, the sObject Collections
   * updates applied (`inputs`) and how many changed a stored value (`changed`). A client that
   * re-sends a batch it already sent shows `inputs > changed`.
   */
  writeCounts: { of(sobject: string): Map<string, WriteCount> };
  /**
   * The next `n` sObject Collections updates are applied and never answered: the request stays
   * open until the client times out or goes away (a lost answer; a process killed mid-call).
   * `lostAnswers` in stats counts those reached.
   */
  loseWriteAnswers(n: number): void;
  /** an admin renames the org's My Domain: the new URL is its instance_url, the old one only redirects OAuth */
  renameMyDomain(url: string): void;
  stats(): SalesforceStats;
  close(): Promise<void>;
};

export const DEFAULT_ORG_ID = salesforceId('00D', 1);

export function createSalesforceSandbox(opts: SalesforceSandboxOptions = {}): SalesforceSandbox {
  const clock = opts.clock ?? createClock();
  const orgId = opts.orgId ?? DEFAULT_ORG_ID;
  const data = createSalesforceStorage(clock);
  data.create('Organization', { Id: orgId, Name: 'Rapport Emulated Org', OrganizationType: 'Enterprise Edition' }, { at: clock.now() });
  const sessions = createSalesforceSessions({ clock, orgId, userId: salesforceId('005', 1), ...(opts.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: opts.sessionTimeoutMs }) });
  const random = createRandom(opts.seed ?? 1);
  let faults: SalesforceFaults = opts.faults ?? {};
  let rapportFields = opts.rapportFields ?? true;
  let org: SalesforceOrgSettings = { ...DEFAULT_ORG_SETTINGS, ...opts.org };
  const limit = opts.dailyLimit ?? 100_000;
  // the budget is a rolling 24 h in Salesforce; a calendar day (UTC, of the emulator's clock) is close enough here
  let usage = { day: '', used: 0 };
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);
  const stats = { requests: 0, byRoute: {} as Record<string, number>, faults: 0, rateLimited: 0, inFlight: 0 };
  const openTransactions = new Set<{ at: number }>();
  const writeCounts = createWriteCounts<string, string>();
  let answersToLose = 0;
  let lostAnswers = 0;

  const api = createSalesforceApi({
    clock,
    data,
    sessions,
    oauth: opts.oauth,
    hasRapportFields: () => rapportFields,
    org: () => org,
    openTransactionSince: () => (openTransactions.size === 0 ? null : Math.min(...[...openTransactions].map((t) => t.at))),
    usage: {
      count() {
        if (usage.day !== today()) usage = { day: today(), used: 0 };
        usage.used++;
        return { used: usage.used, limit };
      },
      current: () => ({ used: usage.day === today() ? usage.used : 0, limit }),
    },
    fault() {
      const r = random();
      let acc = 0;
      for (const k of ['requestLimit', 'serverError', 'malformed'] as const) {
        acc += faults[k] ?? 0;
        if (r < acc) return k;
      }
      return null;
    },
    stats,
    writeCounts,
    loseWriteAnswer() {
      if (answersToLose === 0) return false;
      answersToLose--;
      lostAnswers++;
      return true;
    },
  });
  // count every request by route shape (ids and locators folded) before the API sees it
  const app = new Hono();
  app.use('*', async (c, next) => {
    stats.requests++;
    const route = `${c.req.method} ${new URL(c.req.url).pathname.replace(/\/v\d+\.\d/, '/vXX.X').replace(/\/query\/[^/]+$/, '/query/{locator}')}`;
    stats.byRoute[route] = (stats.byRoute[route] ?? 0) + 1;
    await next();
  });
  const loader = createSalesforceLoader(data);
  const cdc = createChangeEventLog({ clock, data, commitUser: sessions.userId, ...(opts.cdc?.entities === undefined ? {} : { entities: opts.cdc.entities }), ...(opts.cdc?.maxEvents === undefined ? {} : { maxEvents: opts.cdc.maxEvents }) });
  const cometd = createCometd({ log: cdc, sessions, org: () => org, ...(opts.cdc?.holdMs === undefined ? {} : { holdMs: opts.cdc.holdMs }) });
  const adminToken = opts.adminToken ?? randomBytes(18).toString('base64url');
  const sandbox: SalesforceSandbox = {
    app,
    clock,
    orgId,
    data,
    sessions,
    loader,
    adminToken,
    cdc,
    setFaults(f) {
      faults = { ...f };
    },
    setRapportFields(deployed) {
      rapportFields = deployed;
    },
    configure(settings) {
      org = { ...org, ...settings };
    },
    beginLongTransaction() {
      const tx = { at: clock.now() };
      openTransactions.add(tx);
      return { at: tx.at, commit: () => void openTransactions.delete(tx) };
    },
    writeCounts: { of: (sobject) => writeCounts.of(orgId, sobject) },
    loseWriteAnswers(n) {
      answersToLose = n;
    },
    renameMyDomain(url) {
      org = { ...org, myDomainUrl: url, formerMyDomainUrls: [...org.formerMyDomainUrls, ...(org.myDomainUrl === null ? [] : [org.myDomainUrl])] };
    },
    stats: () => ({ ...stats, byRoute: { ...stats.byRoute }, apiUsage: { used: usage.day === today() ? usage.used : 0, limit }, lostAnswers }),
    async close() {
      cometd.close();
      cdc.close();
    },
  };
  // the admin API is mounted before the Salesforce routes, whose catch-all answers 501
  app.route('/_sandbox', createAdminRoutes({ adminToken, clock, data, sessions, loader, setFaults: sandbox.setFaults, setRapportFields: sandbox.setRapportFields, stats: sandbox.stats, cdc }));
  app.route('/', cometd.app);
  app.route('/', api);
  return sandbox;
}

/**
 * Serves an emulator on 127.0.0.1 (port 0 = any free port). `baseUrl` is both login URL and instance
 * URL unless the org has a My Domain (`org.myDomainUrl`). `extraHosts` serves the same org on that
 * many more ports (`hostUrls`): distinct origins for a login host, a My Domain and a renamed one.
 */
export async function startSalesforceSandbox(
  opts: SalesforceSandboxOptions & { port?: number; host?: string; extraHosts?: number } = {},
): Promise<{ sandbox: SalesforceSandbox; baseUrl: string; hostUrls: string[]; close(): Promise<void> }> {
  const sandbox = createSalesforceSandbox(opts);
  const extra: { baseUrl: string; close(): Promise<void> }[] = [];
  for (let i = 0; i < (opts.extraHosts ?? 0); i++) extra.push(await serveEmulator(sandbox.app.fetch, { host: opts.host }, async () => {}));
  const served = await serveEmulator(sandbox.app.fetch, opts, async () => {
    for (const e of extra) await e.close();
    await sandbox.close();
  });
  return { sandbox, ...served, hostUrls: extra.map((e) => e.baseUrl) };
}
