import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStatus, renderHuman } from '../../src/commands/status.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { ChangeStream } from '../../src/connectors/provider.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport, type Rapport } from '../../src/main.ts';
import { generateAccount } from '../../src/sandbox/generator/index.ts';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../src/sandbox/salesforce/index.ts';
import { createStore } from '../../src/store/index.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Salesforce Change Data Capture end to end, with real parts: the emulated org over HTTP (REST
 * and its CometD endpoint), Rapport's subscription through jsforce's streaming client, the daemon
 * over a real SQLite store, scoring and write-back. The daemon's timer is never started, so
 * whatever reaches the cache and the org after the first pass got there through a change event.
 */
const dir = tempDir();
let sandbox: SalesforceSandbox;
let baseUrl: string;
let closeSandbox: () => Promise<void>;
let config: Config;
let portal: string;
let rapport: Rapport;
let stream: ChangeStream;
let token: string;

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${baseUrl}/_sandbox${path}`, {
    method,
    headers: { authorization: `Bearer ${sandbox.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
};
const scoredAt = (contactId: string) => sandbox.data.get('Contact', contactId)?.['Rapport_Scored_At__c'] ?? null;
async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const contacts = () => sandbox.data.rows('Contact').filter((c) => c['IsDeleted'] !== true).map((c) => c['Id'] as string);
/**
 * An urgent Case on a contact: moves its service need, so a rescore always writes. The org's
 * clock moves on first: Rapport_Scored_At__c has whole seconds, and a rescore within the second of
 * the last one would look like no write at all.
 */
const urgentCase = (contactId: string, subject: string) => (sandbox.clock.advance(2_000), admin('POST', '/objects/Case', { fields: { Subject: subject, ContactId: contactId, Priority: 'High', Status: 'New', Origin: 'Phone' } })) as Promise<{ Id: string }>;

async function connect(): Promise<Rapport> {
  const r = await createRapport({ config, logger: silentLogger, now: () => sandbox.clock.now(), changeStreams: true });
  await r.addPortal(
    { portal, crm: 'salesforce', externalId: sandbox.orgId, baseUrl, scopes: [] },
    {
      accessToken: async () => token,
      // a refused session: a new one, as the token manager's refresh would give
      onUnauthorized: async () => (token = sandbox.sessions.issue().accessToken),
    },
  );
  return r;
}

beforeAll(async () => {
  ({ sandbox, baseUrl, close: closeSandbox } = await startSalesforceSandbox({ seed: 8, cdc: { holdMs: 1_500 } }));
  for (const b of generateAccount({ seed: 8, contacts: 40, now: sandbox.clock.now() })) sandbox.loader.load(b);
  token = sandbox.sessions.issue().accessToken;
  portal = `salesforce:${sandbox.orgId}`;
  config = loadConfig({ RAPPORT_DB: join(dir.path, 'r.db'), RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'), SALESFORCE_LOGIN_URL: baseUrl }, '/nonexistent.json');
  rapport = await connect();
  await rapport.connector(portal)!.provision(rapport.daemon.signal);
  await rapport.daemon.runOnce(portal);
  stream = rapport.changeStream(portal)!;
  await stream.ready();
  await rapport.daemon.idle();
}, 60_000);

afterAll(async () => {
  await rapport.close().catch(() => {});
  await closeSandbox();
  dir.cleanup();
});

describe('Salesforce Change Data Capture', () => {
  it('a change in the org → its streams nudged → the contact rescored and written back, with no polling', async () => {
    const before = stream.status();
    expect(before.state).toBe('live');
    const contact = contacts()[3]!;
    const was = scoredAt(contact);
    const created = await urgentCase(contact, 'CDC: printer on fire');
    await until('the new score on the org', () => scoredAt(contact) !== was);
    // the incremental sync fetched the Case itself, linked to its contact
    expect((await rapport.store.records.linkedToContact(portal, contact)).map((r) => r.id)).toContain(created.Id);
    expect(stream.status().nudges).toBe(before.nudges + 1);
  });

  it("drops the echoes of Rapport's own write-back (changeOrigin client=rapport)", async () => {
    const before = stream.status();
    const contact = contacts()[5]!;
    const was = scoredAt(contact);
    await urgentCase(contact, 'CDC: echo check');
    await until('the new score on the org', () => scoredAt(contact) !== was);
    // the write-back's own Contact UPDATE comes back as an event, and goes no further
    await until('the echo', () => stream.status().echoes > before.echoes);
    await rapport.daemon.idle();
    await new Promise((r) => setTimeout(r, 200));
    const after = stream.status();
    expect(after.nudges).toBe(before.nudges + 1);
    expect(after.events - before.events).toBe(after.nudges - before.nudges + (after.echoes - before.echoes));
  });

  it('a gap event, and an overflow event that names no record, fall back to the windowed query', async () => {
    const before = stream.status();
    await admin('POST', '/cdc', { gapMode: true });
    const a = contacts()[7]!;
    const wasA = scoredAt(a);
    const gapCase = await urgentCase(a, 'CDC: gap');
    await until('the gap-covered change written back', () => scoredAt(a) !== wasA);
    expect((await rapport.store.records.linkedToContact(portal, a)).map((r) => r.id)).toContain(gapCase.Id);
    expect(stream.status().gaps).toBe(before.gaps + 1);
    await admin('POST', '/cdc', { gapMode: false });

    // Case changes publish nothing now (deselected); then an overflow event for Case: the tickets
    // stream runs from its cursor and finds the change no event described
    await admin('POST', '/cdc', { entities: ['Contact', 'Account', 'Opportunity', 'OpportunityContactRole', 'Task', 'Event'] });
    const b = contacts()[9]!;
    const wasB = scoredAt(b);
    const silent = await urgentCase(b, 'CDC: overflow');
    await new Promise((r) => setTimeout(r, 300));
    expect(await rapport.store.records.get(portal, 'tickets', silent.Id)).toBeUndefined();
    await admin('POST', '/cdc', { overflow: 'Case', entities: ['Contact', 'Account', 'Opportunity', 'OpportunityContactRole', 'Case', 'Task', 'Event'] });
    await until('the overflow-covered change written back', () => scoredAt(b) !== wasB);
    expect((await rapport.store.records.linkedToContact(portal, b)).map((r) => r.id)).toContain(silent.Id);
    expect(stream.status().overflows).toBe(before.overflows + 1);
  });

  it('reconnects with a fresh token when the org refuses the session, and keeps delivering', async () => {
    const before = stream.status();
    sandbox.sessions.expireAccessTokens();
    await until('a reconnect', () => stream.status().reconnects > before.reconnects);
    await until('live again', () => stream.status().state === 'live');
    const contact = contacts()[11]!;
    const was = scoredAt(contact);
    await urgentCase(contact, 'CDC: after a new session');
    await until('the new score on the org', () => scoredAt(contact) !== was);
  });

  it('`rapport status` shows the stream and the slower polling', async () => {
    await rapport.daemon.idle();
    await new Promise((r) => setTimeout(r, 100));
    const [report] = await collectStatus(rapport.store, portal);
    expect(report?.changeNotifications).toMatchObject({ state: 'live', pollEveryMs: 15 * 60_000, position: expect.any(Number) });
    // not listed as a record stream
    expect(report?.streams.map((s) => s.stream)).not.toContain('change-events');
    expect(renderHuman([report!])).toMatch(/change notifications: live .*every stream still polled every 15 min/);
    expect(stream.pollEveryMs()).toBe(15 * 60_000);
  });

  it('after a restart, resumes from the stored replay id: what happened meanwhile arrives once, nothing earlier again', async () => {
    await rapport.daemon.idle();
    // every event handled, the last write-back's echoes included
    await until('the last echoes', () => stream.status().position === sandbox.cdc.latest());
    await rapport.close();
    const stored = createStore({ path: config.dbPath, encryptionKey: config.encryptionKey });
    const position = JSON.parse((await stored.cursors.get(portal, 'change-events'))!) as { replayId: number };
    await stored.close();
    expect(position.replayId).toBe(sandbox.cdc.latest());

    // while Rapport is down
    const [c1, c2] = [contacts()[13]!, contacts()[15]!];
    const was = [scoredAt(c1), scoredAt(c2)];
    await urgentCase(c1, 'CDC: while down 1');
    await urgentCase(c2, 'CDC: while down 2');

    rapport = await connect();
    stream = rapport.changeStream(portal)!;
    await stream.ready();
    await until('both written back', () => scoredAt(c1) !== was[0] && scoredAt(c2) !== was[1]);
    await rapport.daemon.idle();
    await until('the echoes of that write-back', () => stream.status().echoes >= 2);
    const s = stream.status();
    // exactly the two missed changes nudged; every other event was an echo of our own writes
    expect(s.nudges).toBe(2);
    expect(s.events).toBe(s.nudges + s.echoes);
    expect(s.position).toBeGreaterThan(position.replayId);
  });

  it('after an outage longer than the 72 h retention, the refused replay id falls back to every stream, then new events', async () => {
    await rapport.daemon.idle();
    await until('the last echoes', () => stream.status().position === sandbox.cdc.latest());
    await rapport.close();
    const contact = contacts()[17]!;
    const was = scoredAt(contact);
    await urgentCase(contact, 'CDC: during a long outage');
    // three days and a bit: the events Rapport has not seen are gone from the bus
    sandbox.clock.advance(72 * 3_600_000 + 60_000);
    sandbox.data.create('Account', { Name: 'moves the bus on' });

    rapport = await connect();
    stream = rapport.changeStream(portal)!;
    await stream.ready();
    // the missed Case came through the streams' windowed queries, not through an event
    await until('the missed change written back', () => scoredAt(contact) !== was);
    expect(stream.status().reconnects).toBeGreaterThanOrEqual(1);
    // and new events flow again
    const next = contacts()[19]!;
    const wasNext = scoredAt(next);
    await urgentCase(next, 'CDC: after the outage');
    await until('the new score on the org', () => scoredAt(next) !== wasNext);
  });
});
