import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmConnector, ScoreUpdate, WriteResult } from '../../../src/connectors/types.ts';
import { CrmError, MISSING_PROPERTY } from '../../../src/errors.ts';
import { silentLogger, type Logger } from '../../../src/log.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { drainOutbox } from '../../../src/sync/write-back.ts';
import { tempDir } from '../../support/temp-dir.ts';

const portal = 'hubspot:1';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let clock = 1_000_000;
afterEach(async () => {
  await store.close();
  dir.cleanup();
});
function open(): Store {
  dir = tempDir();
  clock = 1_000_000;
  store = createStore({ path: join(dir.path, 'r.db'), now: () => clock });
  return store;
}

/** A write-only connector: records every batch and answers per contact from `outcome`. */
function writer(outcome: (u: ScoreUpdate) => WriteResult | 'throw-auth' | 'throw-unavailable') {
  const batches: ScoreUpdate[][] = [];
  const connector: CrmConnector = {
    crm: 'hubspot',
    // eslint-disable-next-line require-yield
    async *changes() {
      throw new Error('not used');
    },
    async provision() {},
    async whoAmI() {
      return { portal };
    },
    async writeScores(updates) {
      batches.push([...updates]);
      const results = updates.map(outcome);
      if (results.includes('throw-auth')) throw new CrmError('auth', 'token expired', { crm: 'hubspot', status: 401 });
      if (results.includes('throw-unavailable')) throw new CrmError('unavailable', '502 from CRM', { crm: 'hubspot', status: 502 });
      return results as WriteResult[];
    },
  };
  return { connector, batches };
}

const signal = new AbortController().signal;

describe('drainOutbox', () => {
  it('writes in batches of 100 and never re-sends values already written', async () => {
    open();
    for (let i = 0; i < 250; i++) await store.outbox.enqueue(portal, `c${i}`, { satisfaction: '50', health: 'green' });
    const { connector, batches } = writer((u) => ({ contactId: u.contactId, ok: true }));
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r).toMatchObject({ written: 250, retrying: 0, parked: 0 });
    expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });

    // Same values again: nothing to write. One changed value: only that property goes out.
    expect(await store.outbox.enqueue(portal, 'c1', { satisfaction: '50', health: 'green' })).toBe(0);
    await store.outbox.enqueue(portal, 'c2', { satisfaction: '51', health: 'green' });
    await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(batches.at(-1)).toEqual([{ contactId: 'c2', properties: { satisfaction: '51' } }]);
  });

  it('retries a retryable per-record failure with backoff, then parks it with the reason', async () => {
    open();
    await store.outbox.enqueue(portal, 'ok', { loyalty: '10' });
    await store.outbox.enqueue(portal, 'flaky', { loyalty: '20' });
    const { connector } = writer((u) =>
      u.contactId === 'flaky'
        ? { contactId: u.contactId, ok: false, error: new CrmError('unavailable', 'timeout', { crm: 'hubspot' }) }
        : { contactId: u.contactId, ok: true },
    );
    const deps = { store, connector, portal, logger: silentLogger };
    const first = await drainOutbox(deps, { signal, maxAttempts: 3 });
    expect(first).toMatchObject({ written: 1, retrying: 1, parked: 0 });
    // Not due yet: a second drain right away sends nothing.
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).retrying).toBe(0);
    clock += 3_600_000;
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).retrying).toBe(1);
    clock += 3_600_000;
    expect((await drainOutbox(deps, { signal, maxAttempts: 3 })).parked).toBe(1);
    expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 1 });
    expect((await store.outbox.parked(portal))[0]).toMatchObject({ contactId: 'flaky', lastError: 'unavailable: timeout' });
  });

  it('parks a non-retryable failure at once (e.g. the contact was deleted)', async () => {
    open();
    await store.outbox.enqueue(portal, 'gone', { loyalty: '1' });
    const { connector } = writer((u) => ({
      contactId: u.contactId,
      ok: false,
      error: new CrmError('invalid_request', 'Object not found', { crm: 'hubspot', status: 404 }),
    }));
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r.parked).toBe(1);
    expect((await store.outbox.parked(portal))[0]?.lastError).toContain('Object not found');
  });

  it('keeps every item when the whole batch fails on auth, and loses nothing across a restart', async () => {
    open();
    await store.outbox.enqueue(portal, 'a', { churn_risk: '80' });
    await store.outbox.enqueue(portal, 'b', { churn_risk: '10' });
    const failing = writer(() => 'throw-auth');
    const r = await drainOutbox({ store, connector: failing.connector, portal, logger: silentLogger }, { signal });
    expect(r.error?.kind).toBe('auth');
    expect(r.written).toBe(0);
    const path = join(dir.path, 'r.db');
    await store.close();
    store = createStore({ path, now: () => clock });
    expect((await store.outbox.due(portal, 10)).map((i) => i.contactId).sort()).toEqual(['a', 'b']);
    const ok = writer((u) => ({ contactId: u.contactId, ok: true }));
    expect((await drainOutbox({ store, connector: ok.connector, portal, logger: silentLogger }, { signal })).written).toBe(2);
  });

  it('schedules a retry for every item of a batch that failed as a whole with a 5xx', async () => {
    open();
    await store.outbox.enqueue(portal, 'a', { churn_risk: '80' });
    const { connector } = writer(() => 'throw-unavailable');
    const r = await drainOutbox({ store, connector, portal, logger: silentLogger }, { signal });
    expect(r.error?.kind).toBe('unavailable');
    expect(await store.outbox.stats(portal)).toEqual({ pending: 1, parked: 0 });
    expect(await store.outbox.due(portal, 10)).toEqual([]);
  });

  describe('a write refused for a missing property', () => {
    /** A portal whose rapport_* properties exist only once provision() succeeded (HubSpot 207 VALIDATION_ERROR). */
    function portalWithoutProperties(provision: () => void) {
      let provisioned = false;
      const batches: ScoreUpdate[][] = [];
      const connector: CrmConnector = {
        crm: 'hubspot',
        // eslint-disable-next-line require-yield
        async *changes() {
          throw new Error('not used');
        },
        async provision() {
          provision();
          provisioned = true;
        },
        async whoAmI() {
          return { portal };
        },
        async writeScores(updates) {
          batches.push([...updates]);
          return updates.map((u) =>
            provisioned
              ? { contactId: u.contactId, ok: true as const }
              : {
                  contactId: u.contactId,
                  ok: false as const,
                  error: new CrmError('invalid_request', 'Property values were not valid: [{"error":"PROPERTY_DOESNT_EXIST","name":"rapport_loyalty"}]', {
                    crm: 'hubspot',
                    status: 207,
                    code: MISSING_PROPERTY,
                  }),
                },
          );
        },
      };
      return { connector, batches };
    }
    function recordingLogger() {
      const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
      const logger: Logger = {
        debug: (fields, msg) => void lines.push({ level: 'debug', fields, msg }),
        info: (fields, msg) => void lines.push({ level: 'info', fields, msg }),
        warn: (fields, msg) => void lines.push({ level: 'warn', fields, msg }),
        error: (fields, msg) => void lines.push({ level: 'error', fields, msg }),
        child: () => logger,
      };
      return { logger, lines };
    }

    it('provisions the properties and retries the batch: everything written, nothing parked, no attempt spent', async () => {
      open();
      for (let i = 0; i < 150; i++) await store.outbox.enqueue(portal, `c${i}`, { loyalty: String(i) });
      let provisions = 0;
      const { connector, batches } = portalWithoutProperties(() => void provisions++);
      const { logger, lines } = recordingLogger();
      const r = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(r).toMatchObject({ written: 150, retrying: 0, parked: 0, reprovisioned: true });
      expect(provisions).toBe(1);
      // the refused batch of 100 went out again after provisioning, then the last 50
      expect(batches.map((b) => b.length)).toEqual([100, 100, 50]);
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });
      expect(lines.find((l) => l.level === 'warn')?.msg).toMatch(/lacks a Rapport property; provisioning the properties and retrying/);
    });

    it('parks the writes with the reason when provisioning fails, logs the parking at warn, and `requeueParked` brings them back', async () => {
      open();
      await store.outbox.enqueue(portal, 'a', { loyalty: '10' });
      await store.outbox.enqueue(portal, 'b', { loyalty: '20' });
      let allowed = false;
      const { connector } = portalWithoutProperties(() => {
        if (!allowed) throw new CrmError('forbidden', 'missing scope crm.schemas.contacts.write', { crm: 'hubspot', status: 403, code: 'MISSING_SCOPES' });
      });
      const { logger, lines } = recordingLogger();
      const r = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(r).toMatchObject({ written: 0, parked: 2 });
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 2 });
      const reason = 'invalid_request PROPERTY_DOESNT_EXIST; provisioning failed (forbidden MISSING_SCOPES)';
      expect(await store.outbox.parkedReasons(portal)).toEqual([{ reason, count: 2 }]);
      expect((await store.outbox.parked(portal))[0]?.lastError).toMatch(/^invalid_request PROPERTY_DOESNT_EXIST; provisioning failed \(forbidden MISSING_SCOPES\): Property values were not valid/);
      const warn = lines.filter((l) => l.level === 'warn' && /parked/.test(l.msg));
      expect(warn).toEqual([expect.objectContaining({ fields: { portal, parked: 2, reason } })]);
      // never the values: no log line carries the properties
      expect(JSON.stringify(lines)).not.toContain('"loyalty"');

      // The admin grants the scope; `rapport outbox retry` re-queues, the next drain provisions and writes.
      allowed = true;
      expect(await store.outbox.requeueParked(portal)).toBe(2);
      expect(await store.outbox.stats(portal)).toEqual({ pending: 2, parked: 0 });
      expect((await store.outbox.due(portal, 10)).map((i) => i.attempts)).toEqual([0, 0]);
      const again = await drainOutbox({ store, connector, portal, logger }, { signal });
      expect(again).toMatchObject({ written: 2, parked: 0, reprovisioned: true });
      expect(await store.outbox.stats(portal)).toEqual({ pending: 0, parked: 0 });
      expect(await store.outbox.requeueParked(portal)).toBe(0);
    });
  });
});
