/**
 * `npm run bench:sync` — the HubSpot connector's backfill against the sandbox with HubSpot's
 * real limits ON (110 requests / 10 s per account, search 5 / s; hubspot.md §2.1). Prints each
 * figure with its goal (issue 3 "Performance"):
 *
 * 1. backfill efficiency = records/s ÷ ceiling, ceiling = 11 requests/s × 100 records per page.
 *    A sliding window lets the first 110 requests through at once, so a short run can beat the
 *    steady ceiling; the burst-aware figure divides by the best any client could do for the same
 *    number of requests (110 per started 10 s window) instead.
 * 2. API calls per contact synced (with its company association) ÷ the minimum possible
 *    (one list call per 100 contacts: associations come inline, hubspot.md §1.4).
 * 3. The naive approach side by side, on the same kind of account in the same run: the client's
 *    `getAll`, its built-in retry (`numberOfApiCallRetries: 6`) and one association call per
 *    contact. Printed: our wall time ÷ theirs.
 *
 * Peak RSS over a 200,000-contact backfill is measured by the sync engine's bench (it needs the
 * store and the sandbox in separate processes); BENCH_SYNC_RSS=1 runs a connector-only version here.
 *
 * Options: BENCH_SYNC_CONTACTS (default 25000), BENCH_SYNC_NAIVE_CONTACTS (default 300).
 * Order matters: the client's decorators are a process-wide singleton (hubspot.md §2.5), so the
 * naive client (with retries) is created only after our runs are over.
 */
import { Client } from '@hubspot/api-client';
import { createHubspotConnector } from '../src/connectors/hubspot/index.ts';
import type { ObjectType } from '../src/connectors/types.ts';
import { CrmError } from '../src/errors.ts';
import { startHubspotSandbox, type HubspotSandbox } from '../src/sandbox/hubspot/index.ts';
import type { SandboxAssociation, SandboxObject } from '../src/sandbox/model.ts';

const CONTACTS = Number(process.env.BENCH_SYNC_CONTACTS ?? 25_000);
const NAIVE_CONTACTS = Number(process.env.BENCH_SYNC_NAIVE_CONTACTS ?? 300);
const LIMITS = { per10s: 110, searchPerSecond: 5 };
const PAGE = 100;
const CEILING = (LIMITS.per10s / 10) * PAGE; // records/s

const served = await startHubspotSandbox({ limits: LIMITS });
const { sandbox, baseUrl } = served;

/** Contacts with one primary company each (10 contacts per company), loaded without events. */
function seed(sb: HubspotSandbox, hubId: number, contacts: number): void {
  const t0 = Date.UTC(2025, 0, 1);
  const companies = Math.ceil(contacts / 10);
  const companyIds = (i: number) => String(10_000_000 + i);
  const objects: SandboxObject[] = [];
  for (let i = 0; i < companies; i++) {
    objects.push({ type: 'companies', id: companyIds(i), properties: { name: `Company ${i}`, domain: `c${i}.example.com` }, createdAt: t0, updatedAt: t0, archived: false });
  }
  sb.data.load(hubId, { objects, associations: [], truth: [] });
  for (let first = 0; first < contacts; first += 5_000) {
    const batch: SandboxObject[] = [];
    const assoc: SandboxAssociation[] = [];
    for (let i = first; i < Math.min(first + 5_000, contacts); i++) {
      const id = String(i + 1);
      batch.push({
        type: 'contacts',
        id,
        properties: { email: `Person${i}@Example.com `, firstname: `First${i}`, lastname: `Last${i}`, phone: '+1 (555) 010-0000', lifecyclestage: 'customer' },
        createdAt: t0 + i,
        updatedAt: t0 + 2 * i,
        archived: false,
      });
      assoc.push({ fromType: 'contacts', fromId: id, toType: 'companies', toId: companyIds(Math.floor(i / 10)), typeId: 1 });
    }
    sb.data.load(hubId, { objects: batch, associations: assoc, truth: [] });
  }
}

async function ourBackfill(token: string, hubId: number, type: ObjectType) {
  const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, portal: `hubspot:${hubId}`, limits: LIMITS });
  const started = performance.now();
  let records = 0;
  let withCompany = 0;
  let failed: string | null = null;
  try {
    for await (const page of connector.changes(type, null, new AbortController().signal)) {
      records += page.records.length;
      withCompany += page.records.filter((r) => r.companyId !== null).length;
    }
  } catch (e) {
    failed = e instanceof CrmError ? e.kind : String(e);
  }
  const seconds = (performance.now() - started) / 1000;
  return { records, withCompany, seconds, failed, ...connector.stats() };
}

const fmt = (n: number, d = 2) => n.toFixed(d);
const line = (label: string, value: string, goal: string, ok: boolean | null) =>
  console.log(`${label.padEnd(58)} ${value.padStart(12)}   goal ${goal.padEnd(8)} ${ok === null ? '' : ok ? 'OK' : 'MISSED'}`);

// ---- 1 + 2: our backfill with real limits --------------------------------------------------
const main = sandbox.portals.create({ privateAppToken: 'pat-bench-main' });
seed(sandbox, main.hubId, CONTACTS);
console.log(`bench:sync — ${CONTACTS.toLocaleString('en')} contacts (+ company associations), limits ${LIMITS.per10s}/10 s, search ${LIMITS.searchPerSecond}/s\n`);
const ours = await ourBackfill(main.token, main.hubId, 'contacts');
const sbStats = sandbox.stats(main.hubId);
const rate = ours.records / ours.seconds;
const minCalls = Math.ceil(CONTACTS / PAGE);
// the best any client can do: 110 requests per started 10-s window, the last window's requests at its start
const bestSeconds = Math.max(0.001, Math.floor((ours.calls - 1) / LIMITS.per10s) * 10);
if (ours.records !== CONTACTS || ours.withCompany !== CONTACTS) {
  console.log(`!! incomplete backfill: ${ours.records} records, ${ours.withCompany} with a company (expected ${CONTACTS})`);
}
line('backfill records/s', fmt(rate, 0), '', null);
line('backfill efficiency (records/s ÷ 1,100/s steady ceiling)', fmt(rate / CEILING), '≥ 0.90', rate / CEILING >= 0.9);
if (ours.calls > LIMITS.per10s) {
  line('backfill efficiency, burst-aware (best possible time ÷ ours)', fmt(bestSeconds / ours.seconds), '≥ 0.90', bestSeconds / ours.seconds >= 0.9);
} else {
  line('backfill efficiency, burst-aware', 'n/a', '≥ 0.90', null);
  console.log(`   (only ${ours.calls} calls: all inside the first window; raise BENCH_SYNC_CONTACTS)`);
}
line('API calls per contact ÷ minimum', `${fmt(ours.calls / minCalls, 3)} (${ours.calls}/${minCalls})`, '≤ 1.10', ours.calls / minCalls <= 1.1);
line('429s answered by HubSpot (sandbox count)', String(sbStats.rateLimited), '0', sbStats.rateLimited === 0);
const unhandled = ours.failed === 'rate_limited' ? 1 : 0;
if (ours.failed !== null) console.log(`!! backfill failed: ${ours.failed}`);
line('429s left unhandled (backfill failed with rate_limited)', String(unhandled), '0', unhandled === 0);
line('429s received and retried by our client', String(ours.rateLimited), '', null);

// ---- 3: naive vs ours on a small account ---------------------------------------------------
const a = sandbox.portals.create({ privateAppToken: 'pat-bench-ours' });
const b = sandbox.portals.create({ privateAppToken: 'pat-bench-naive' });
seed(sandbox, a.hubId, NAIVE_CONTACTS);
seed(sandbox, b.hubId, NAIVE_CONTACTS);
const small = await ourBackfill(a.token, a.hubId, 'contacts');

const naiveStart = performance.now();
const client = new Client({ accessToken: b.token, basePath: baseUrl, numberOfApiCallRetries: 6 });
const all = await client.crm.contacts.getAll(100, undefined, ['email', 'firstname', 'lastname', 'phone', 'lifecyclestage']);
let naiveLinks = 0;
for (const c of all) {
  const res = await client.crm.associations.v4.basicApi.getPage('contacts', c.id, 'companies');
  naiveLinks += res.results.length;
}
const naiveSeconds = (performance.now() - naiveStart) / 1000;
const naiveCalls = sandbox.stats(b.hubId).requests;
console.log(
  `\nnaive (getAll + built-in retry + per-contact association calls), ${NAIVE_CONTACTS} contacts: ${fmt(naiveSeconds, 1)} s, ${naiveCalls} calls, ${sandbox.stats(b.hubId).rateLimited} × 429, ${naiveLinks} links`,
);
console.log(`ours on the same account: ${fmt(small.seconds, 3)} s, ${small.calls} calls, ${small.withCompany} links`);
line('our wall time ÷ naive wall time', fmt(small.seconds / naiveSeconds, 4), '< 1', small.seconds / naiveSeconds < 1);

if (process.env.BENCH_SYNC_RSS === '1') {
  const rssContacts = 200_000;
  const c = sandbox.portals.create({ privateAppToken: 'pat-bench-rss' });
  seed(sandbox, c.hubId, rssContacts);
  sandbox.setLimits(false);
  let peak = process.memoryUsage().rss;
  const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => c.token, portal: `hubspot:${c.hubId}`, limits: false });
  for await (const page of connector.changes('contacts', null, new AbortController().signal)) {
    void page;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  line('peak RSS, sandbox + connector in ONE process, 200k contacts (MB)', fmt(peak / 2 ** 20, 0), '≤ 300', null);
}

await served.close();
