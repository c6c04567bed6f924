import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collectStatus } from '../../src/commands/status.ts';
import { createHubspotConnector } from '../../src/connectors/hubspot/index.ts';
import { CrmError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { createClock } from '../../src/sandbox/hubspot/clock.ts';
import { startHubspotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { TIERS } from '../../src/sandbox/hubspot/limits.ts';
import { createStore } from '../../src/store/index.ts';
import { syncStream } from '../../src/sync/sync-stream.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 13, limits and support: a private app's daily limit driven to 0 on the sandbox, and the
 * correlation id of a failed call in the real (pino) log line. The real connector against the
 * real sandbox over HTTP; logs captured from pino's destination stream.
 */

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** pino writing JSON lines into an array */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

describe('a private app’s daily limit (X-HubSpot-RateLimit-Daily-Remaining)', () => {
  it('the connector stops when the remainder reaches 0 (no call is refused), says so with DAILY_LIMIT in the log and `rapport status`, and resumes the next day', async () => {
    const clock = createClock({ frozenAt: T0 });
    const started = await startHubspotSandbox({ clock, tier: 'starter', limits: { per10s: 110, searchPerSecond: 5 }, searchLagMs: 0 });
    cleanups.push(() => started.close());
    const { sandbox, baseUrl } = started;
    const token = 'pat-na1-daily-limit';
    const { hubId } = sandbox.portals.create({ privateAppToken: token });
    const portal = `hubspot:${hubId}`;
    for (let i = 0; i < 45; i++) sandbox.data.create(hubId, 'contacts', { email: `d${i}@example.com` });
    // the account's other integrations used all but 4 of today's calls (the limit is per account)
    sandbox.useDailyCalls(hubId, TIERS.starter.daily! - 4);

    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const store = createStore({ path: join(dir.path, 'r.db'), now: () => clock.now() });
    cleanups.push(() => store.close());
    await store.portals.upsert({ portal, crm: 'hubspot', externalId: String(hubId), baseUrl, scopes: [] });
    const { logger, lines } = capturedLogger();
    // configured for the starter tier (100 / 10 s), so learning the window from the headers costs no pause
    const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, portal, pageSize: 10, logger, limits: { per10s: 100, searchPerSecond: 5 }, now: () => clock.now(), retry: { retries: 2, baseMs: 1, maxMs: 5 } });
    const deps = { store, connector, portal, logger, now: () => clock.now() };
    const signal = new AbortController().signal;

    const first = await syncStream(deps, 'contacts', { signal });
    expect(first.status).toBe('failed');
    expect(first.error).toBeInstanceOf(CrmError);
    expect(first.error?.details).toMatchObject({ code: 'DAILY_LIMIT', policy: 'DAILY' });
    // four calls were allowed: list page 1, the usage call that says when the limit resets (the
    // account's midnight: 05:00Z for the sandbox's US/Eastern accounts), pages 2 and 3; the third
    // page brought the remainder to 0 and the connector sent nothing more
    expect(first.records).toBe(30);
    const stats = sandbox.stats(hubId);
    expect(stats.rateLimited).toBe(0);
    expect(stats.byRoute['GET /crm/v3/objects/contacts']).toBe(3);
    expect(stats.byRoute['GET /account-info/v3/api-usage/daily/private-apps']).toBe(1);
    expect(connector.stats().calls).toBe(5); // + the count (search, outside the daily limit)

    const warn = lines.find((l) => l.msg === 'hubspot: daily API limit used up; no call until it resets');
    expect(warn).toMatchObject({ level: 40, code: 'DAILY_LIMIT', daily: '250000', until: '2026-01-06T05:00:00.000Z' });
    const [report] = await collectStatus(store, portal);
    const stream = report?.streams.find((s) => s.stream === 'contacts');
    expect(stream?.lastRunStatus).toBe('failed');
    expect(stream?.lastError).toMatch(/^rate_limited: DAILY_LIMIT: HubSpot's daily API limit \(250000 calls\) is used up; Rapport resumes at 2026-01-06T05:00:00\.000Z/);

    // later the same day, and at UTC midnight (still 19:00 in the account's time zone): still paused, nothing sent
    for (const at of [Date.UTC(2026, 0, 5, 12), Date.UTC(2026, 0, 6, 0, 0, 1)]) {
      clock.set(at);
      expect((await syncStream(deps, 'contacts', { signal })).status).toBe('failed');
    }
    expect(sandbox.stats(hubId).byRoute['GET /crm/v3/objects/contacts']).toBe(3);
    expect(sandbox.stats(hubId).rateLimited).toBe(0);

    // the account's day rolls over (sandbox clock): the remainder is back and the stream finishes from its cursor
    clock.set(Date.UTC(2026, 0, 6, 5, 0, 1));
    const next = await syncStream(deps, 'contacts', { signal });
    expect(next.status).toBe('ok');
    expect((await store.records.counts(portal)).contacts).toMatchObject({ live: 45 });
    expect(lines.some((l) => l.msg === 'hubspot: a new day, the daily API limit is reset; resuming' && l.code === 'DAILY_LIMIT')).toBe(true);
    const [after] = await collectStatus(store, portal);
    expect(after?.streams.find((s) => s.stream === 'contacts')).toMatchObject({ lastRunStatus: 'ok', lastError: null });
    expect(sandbox.stats(hubId).rateLimited).toBe(0);
  });

  it('a daily 429 HubSpot sends anyway (another app spent the last call) pauses the same way, without retrying', async () => {
    const clock = createClock({ frozenAt: T0 });
    const started = await startHubspotSandbox({ clock, tier: 'pro', limits: { per10s: 110, searchPerSecond: 5 }, searchLagMs: 0 });
    cleanups.push(() => started.close());
    const { sandbox, baseUrl } = started;
    const token = 'pat-na1-daily-429';
    const { hubId } = sandbox.portals.create({ privateAppToken: token });
    sandbox.useDailyCalls(hubId, TIERS.pro.daily!);
    const { logger, lines } = capturedLogger();
    const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, portal: `hubspot:${hubId}`, logger, limits: { per10s: 190, searchPerSecond: 5 }, now: () => clock.now(), retry: { retries: 3, baseMs: 1, maxMs: 5 } });
    const e = await connector.writeScores([{ contactId: '1', properties: { health: 'green' } }], new AbortController().signal).then(
      (r) => (r[0] !== undefined && !r[0].ok ? r[0].error : r),
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).details).toMatchObject({ policy: 'DAILY', status: 429 });
    // one refused call, no retry; then the pause holds every later call locally
    expect(sandbox.stats(hubId).rateLimited).toBe(1);
    const again = await connector.whoAmI().catch((x: unknown) => x);
    expect((again as CrmError).details.code).toBe('DAILY_LIMIT');
    expect(sandbox.stats(hubId).requests).toBe(1);
    expect(lines.some((l) => l.code === 'DAILY_LIMIT' && l.level === 40 && l.until === '2026-01-06T00:00:00.000Z')).toBe(true);
    // not knowing the account's midnight it tried at UTC midnight; still refused there, it probes hourly
    clock.set(Date.UTC(2026, 0, 6, 0, 0, 1));
    expect(((await connector.whoAmI().catch((x: unknown) => x)) as CrmError).details.policy).toBe('DAILY');
    expect(sandbox.stats(hubId).rateLimited).toBe(2);
    expect(lines.some((l) => l.code === 'DAILY_LIMIT' && l.until === '2026-01-06T01:00:00.000Z')).toBe(true);
    clock.set(Date.UTC(2026, 0, 6, 0, 30));
    await connector.whoAmI().catch(() => undefined);
    expect(sandbox.stats(hubId).requests).toBe(2);
    // the account's new day (05:00Z): calls go through again
    clock.set(Date.UTC(2026, 0, 6, 5, 0, 1));
    expect(await connector.whoAmI()).toEqual({ portal: `hubspot:${hubId}` });
    expect(sandbox.stats(hubId).rateLimited).toBe(2);
  });
});

describe('X-HubSpot-Correlation-Id in failure logs (support asks for it)', () => {
  it('the failure line and each retry line carry the correlation id of the response they are about', async () => {
    const clock = createClock({ frozenAt: T0 });
    const started = await startHubspotSandbox({ clock, limits: false, searchLagMs: 0 });
    cleanups.push(() => started.close());
    const { sandbox, baseUrl } = started;
    const token = 'pat-na1-correlation';
    const { hubId } = sandbox.portals.create({ privateAppToken: token });
    const { logger, lines } = capturedLogger();
    const connector = createHubspotConnector({ basePath: baseUrl, accessToken: async () => token, portal: `hubspot:${hubId}`, limits: false, logger, retry: { retries: 2, baseMs: 1, maxMs: 2 } });
    sandbox.setFaults({ '500': 1 });
    const e = (await (async () => {
      for await (const _ of connector.changes('contacts', null, new AbortController().signal)) void _;
    })().catch((x: unknown) => x)) as CrmError;
    expect(e).toBeInstanceOf(CrmError);
    expect(e.kind).toBe('unavailable');
    const id = e.details.correlationId;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const failed = lines.filter((l) => l.msg === 'hubspot request failed');
    expect(failed.at(-1)).toMatchObject({ level: 40, crm: 'hubspot', request: 'GET /crm/v3/objects/contacts', kind: 'unavailable', status: 500, correlationId: id });
    // each retried response had its own id, all logged
    const retries = lines.filter((l) => l.msg === 'hubspot retry' && l.request === 'GET /crm/v3/objects/contacts');
    expect(retries).toHaveLength(2);
    const ids = new Set([...retries.map((l) => l.correlationId), id]);
    expect(ids.size).toBe(3);

    // a 4xx (missing scope): the refusal's id is logged too, and the token never is
    sandbox.setFaults({});
    const narrow = sandbox.portals.create({ privateAppToken: 'pat-na1-narrow', scopes: ['crm.objects.companies.read'] });
    const c2 = createHubspotConnector({ basePath: baseUrl, accessToken: async () => narrow.token, portal: `hubspot:${narrow.hubId}`, limits: false, logger, retry: { retries: 0 } });
    const e2 = (await c2.writeScores([{ contactId: '1', properties: { health: 'green' } }], new AbortController().signal).catch((x: unknown) => x)) as CrmError;
    expect(e2.kind).toBe('forbidden');
    const line = lines.filter((l) => l.msg === 'hubspot request failed').at(-1);
    expect(line).toMatchObject({ kind: 'forbidden', status: 403, correlationId: e2.details.correlationId });
    expect(line?.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.stringify(lines)).not.toContain('pat-na1-');
  });
});
