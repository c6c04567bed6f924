import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CrmConnector, CrmRecord, Cursor, ObjectType, Page } from '../../../src/connectors/types.ts';
import { CrmError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/log.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { createDaemon } from '../../../src/sync/daemon.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir>;
let store: Store;
afterEach(async () => {
  await store.close();
  dir.cleanup();
});

const contact = (portal: string, id: string, updatedAt: number): CrmRecord => ({
  portal,
  type: 'contacts',
  id,
  contactIds: undefined,
  companyId: null,
  updatedAt,
  deleted: false,
  data: { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: id, lastName: null, createdAt: null, lifecycleStage: null },
});

/**
 * A scripted connector: `contacts` has `pages` pages of 2 records from the cursor on (cursor = the
 * index of the next page); other streams are empty. `gate` lets a test hold a page in flight.
 */
function scripted(portal: string, pages: number, opts: { failWith?: CrmError; gate?: () => Promise<void> } = {}) {
  const calls: { type: ObjectType; cursor: Cursor | null }[] = [];
  const connector: CrmConnector = {
    crm: 'hubspot',
    async *changes(type, cursor, signal): AsyncIterable<Page> {
      calls.push({ type, cursor });
      if (opts.failWith !== undefined) throw opts.failWith;
      if (type !== 'contacts') return;
      for (let i = cursor === null ? 0 : Number(cursor); i < pages; i++) {
        await opts.gate?.();
        if (signal.aborted) return;
        yield { records: [contact(portal, `c${2 * i}`, 1000 + i), contact(portal, `c${2 * i + 1}`, 1000 + i)], next: String(i + 1) as Cursor };
      }
    },
    async provision() {},
    async writeScores(updates) {
      return updates.map((u) => ({ contactId: u.contactId, ok: true as const }));
    },
    async whoAmI() {
      return { portal };
    },
  };
  return { connector, calls };
}

function open(): Store {
  dir = tempDir();
  store = createStore({ path: join(dir.path, 'r.db') });
  return store;
}

describe('daemon', () => {
  it('syncs every stream in dependency order, then scores and writes back', async () => {
    open();
    const { connector, calls } = scripted('hubspot:1', 3);
    const scored: string[] = [];
    const daemon = createDaemon({
      store,
      logger: silentLogger,
      intervalMs: 60_000,
      score: async (portal) => {
        scored.push(portal);
        for (const id of await store.dirty.peek(portal, 100)) await store.outbox.enqueue(portal, id, { health: 'green' });
        return { scored: 6, enqueued: 6 };
      },
    });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const s = await daemon.runOnce('hubspot:1');
    expect(calls.map((c) => c.type)).toEqual(['companies', 'contacts', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions']);
    expect(s.streams.find((x) => x.type === 'contacts')).toMatchObject({ status: 'ok', pages: 3, records: 6, changed: 6 });
    expect(scored).toEqual(['hubspot:1']);
    expect(s.writeBack?.written).toBe(6);
    expect(await store.cursors.get('hubspot:1', 'contacts')).toBe('3');
    await daemon.stop();
  });

  it('coalesces nudges that arrive during a run into one more pass (single-flight per stream)', async () => {
    open();
    let release!: () => void;
    let held = new Promise<void>((r) => (release = r));
    const { connector, calls } = scripted('hubspot:1', 1, { gate: () => held });
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const first = daemon.nudge('hubspot:1', ['contacts']);
    await new Promise((r) => setTimeout(r, 10));
    const more = [daemon.nudge('hubspot:1', ['contacts']), daemon.nudge('hubspot:1', ['contacts']), daemon.nudge('hubspot:1', ['contacts'])];
    held = Promise.resolve();
    release();
    await Promise.all([first, ...more]);
    await daemon.idle();
    // one run for the first nudge, exactly one more for the three that arrived meanwhile
    expect(calls.filter((c) => c.type === 'contacts')).toHaveLength(2);
    expect(calls.every((c) => c.type === 'contacts')).toBe(true);
    await daemon.stop();
  });

  it('marks a portal whose token is rejected disconnected and keeps serving the others', async () => {
    open();
    await store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'x', scopes: [] });
    await store.portals.upsert({ portal: 'hubspot:2', crm: 'hubspot', externalId: '2', baseUrl: 'x', scopes: [] });
    const bad = scripted('hubspot:1', 1, { failWith: new CrmError('auth', 'refresh token revoked', { crm: 'hubspot', status: 401 }) });
    const good = scripted('hubspot:2', 2);
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector: bad.connector });
    daemon.addPortal({ portal: 'hubspot:2', connector: good.connector });
    await Promise.all([daemon.nudge('hubspot:1'), daemon.nudge('hubspot:2')]);
    expect(await store.portals.get('hubspot:1')).toMatchObject({ status: 'disconnected' });
    expect((await store.portals.get('hubspot:1'))?.statusReason).toMatch(/revoked/);
    expect(bad.calls).toHaveLength(1); // stopped after the first stream failed on auth
    expect((await store.portals.get('hubspot:2'))?.status).toBe('connected');
    expect((await store.records.counts('hubspot:2'))['contacts']?.live).toBe(4);
    // a disconnected portal ignores further nudges
    await daemon.nudge('hubspot:1');
    expect(bad.calls).toHaveLength(1);
    await daemon.stop();
  });

  it('on stop, finishes and commits the page in hand; the next run resumes after it', async () => {
    open();
    let pagesServed = 0;
    let stopNow!: () => void;
    const stopped = new Promise<void>((r) => (stopNow = r));
    const { connector } = scripted('hubspot:1', 5, {
      gate: async () => {
        pagesServed++;
        if (pagesServed === 3) stopNow();
      },
    });
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const run = daemon.nudge('hubspot:1', ['contacts']);
    await stopped;
    await daemon.stop();
    await run;
    expect(await store.cursors.get('hubspot:1', 'contacts')).toBe('3');
    expect((await store.records.counts('hubspot:1'))['contacts']?.live).toBe(6);

    const again = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    const resumed = scripted('hubspot:1', 5);
    again.addPortal({ portal: 'hubspot:1', connector: resumed.connector });
    await again.runOnce('hubspot:1', { types: ['contacts'] });
    expect(resumed.calls[0]?.cursor).toBe('3');
    expect((await store.records.counts('hubspot:1'))['contacts']?.live).toBe(10);
    await again.stop();
  });
});
