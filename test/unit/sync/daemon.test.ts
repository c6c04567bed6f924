import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeConnector, type FakeConnector } from '../../../src/connectors/fake.ts';
import type { ContactData, ObjectType } from '../../../src/connectors/types.ts';
import type { StreamProgress } from '../../../src/sync/sync-stream.ts';
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

const data: ContactData = { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: null, lastName: null, createdAt: null, lifecycleStage: null };

/** The contract-verified fake CRM with `n` contacts (other streams empty), paging `pageSize` at a time. */
function crm(portal: string, n: number, opts: Parameters<typeof createFakeConnector>[0] = {}): FakeConnector {
  let t = 1_000;
  const connector = createFakeConnector({ portal, pageSize: 2, now: () => t, ...opts });
  for (let i = 0; i < n; i++) {
    connector.put({ type: 'contacts', id: String(i + 1), data: { ...data, firstName: `c${i}` } });
    t += 1;
  }
  return connector;
}
/** the stream of each request, in order */
const streams = (c: FakeConnector) => c.requests.flatMap((r) => (r.op === 'changes' ? [r.type] : []));

function open(): Store {
  dir = tempDir();
  store = createStore({ path: join(dir.path, 'r.db') });
  return store;
}

describe('daemon', () => {
  it('syncs every stream in dependency order, then scores and writes back', async () => {
    open();
    const connector = crm('hubspot:1', 6);
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
    expect([...new Set(streams(connector))]).toEqual(['companies', 'contacts', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions']);
    // three full pages of 2, then the empty page that ends the listing
    expect(s.streams.find((x) => x.type === 'contacts')).toMatchObject({ status: 'ok', pages: 4, records: 6, changed: 6 });
    expect(scored).toEqual(['hubspot:1']);
    expect(s.writeBack?.written).toBe(6);
    expect([...connector.written.keys()].sort()).toEqual(['1', '2', '3', '4', '5', '6']);
    // writing comes after every stream was synced
    expect(connector.requests.findIndex((r) => r.op === 'writeScores')).toBeGreaterThan(connector.requests.findLastIndex((r) => r.op === 'changes'));
    expect(await store.cursors.get('hubspot:1', 'contacts')).not.toBeNull();
    await daemon.stop();
  });

  it('runs beforeWriteBack after the sync and the scoring, right before the first write, and only in a pass that writes back', async () => {
    open();
    const connector = crm('hubspot:1', 4);
    const order: string[] = [];
    const daemon = createDaemon({
      store,
      logger: silentLogger,
      intervalMs: 60_000,
      score: async (portal) => {
        order.push('score');
        for (const id of await store.dirty.peek(portal, 100)) await store.outbox.enqueue(portal, id, { health: 'green' });
        return { scored: 4, enqueued: 4 };
      },
    });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const hook = async () => void order.push(`hook after ${connector.requests.length} requests, ${connector.written.size} written`);
    await daemon.runOnce('hubspot:1', { writeBack: false, beforeWriteBack: hook });
    expect(order).toEqual(['score']);
    const requests = connector.requests.length;
    const s = await daemon.runOnce('hubspot:1', { beforeWriteBack: hook });
    const synced = connector.requests.filter((r, i) => i >= requests && r.op === 'changes').length;
    expect(synced).toBeGreaterThan(0);
    expect(order).toEqual(['score', 'score', `hook after ${requests + synced} requests, 0 written`]);
    expect(s.writeBack?.written).toBe(4);
    await daemon.stop();
  });

  it('coalesces nudges that arrive during a run into one more pass (single-flight per stream)', async () => {
    open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const connector = crm('hubspot:1', 1, { beforeRequest: (r) => (r.op === 'changes' ? held : undefined) });
    const passes: ObjectType[] = [];
    const daemon = createDaemon({
      store,
      logger: silentLogger,
      intervalMs: 60_000,
      score: async () => ({ scored: 0, enqueued: 0 }),
      // one final report per pass of a stream
      onProgress: (p: StreamProgress) => void (p.finishedAt !== undefined && passes.push(p.type)),
    });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const first = daemon.nudge('hubspot:1', ['contacts']);
    await new Promise((r) => setTimeout(r, 10));
    expect(streams(connector)).toEqual(['contacts']); // the first page is in flight
    const more = [daemon.nudge('hubspot:1', ['contacts']), daemon.nudge('hubspot:1', ['contacts']), daemon.nudge('hubspot:1', ['contacts'])];
    release();
    await Promise.all([first, ...more]);
    await daemon.idle();
    // one pass for the first nudge, exactly one more for the three that arrived meanwhile
    expect(passes).toEqual(['contacts', 'contacts']);
    expect(new Set(streams(connector))).toEqual(new Set(['contacts']));
    await daemon.stop();
  });

  it('marks a portal whose token is rejected disconnected and keeps serving the others', async () => {
    open();
    await store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'x', scopes: [] });
    await store.portals.upsert({ portal: 'hubspot:2', crm: 'hubspot', externalId: '2', baseUrl: 'x', scopes: [] });
    const bad = crm('hubspot:1', 2);
    bad.failNext('auth');
    const good = crm('hubspot:2', 4);
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector: bad });
    daemon.addPortal({ portal: 'hubspot:2', connector: good });
    await Promise.all([daemon.nudge('hubspot:1'), daemon.nudge('hubspot:2')]);
    expect(await store.portals.get('hubspot:1')).toMatchObject({ status: 'disconnected' });
    expect((await store.portals.get('hubspot:1'))?.statusReason).toMatch(/injected auth/);
    expect(bad.requests).toHaveLength(1); // stopped after the first stream failed on auth
    expect((await store.portals.get('hubspot:2'))?.status).toBe('connected');
    expect((await store.records.counts('hubspot:2'))['contacts']?.live).toBe(4);
    // a disconnected portal ignores further nudges
    await daemon.nudge('hubspot:1');
    expect(bad.requests).toHaveLength(1);
    await daemon.stop();
  });

  it('on stop, finishes and commits the page in hand; the next run resumes after it', async () => {
    open();
    let contactPages = 0;
    let stopping: Promise<void> | undefined;
    // 10 contacts, 5 pages of 2: stop while the 3rd page is being fetched
    const connector = crm('hubspot:1', 10, {
      beforeRequest: (r) => {
        if (r.op === 'changes' && r.type === 'contacts' && ++contactPages === 3) stopping = daemon.stop();
      },
    });
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    await daemon.nudge('hubspot:1', ['contacts']);
    await stopping;
    expect(contactPages).toBe(3);
    expect((await store.records.counts('hubspot:1'))['contacts']?.live).toBe(6);

    const again = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    again.addPortal({ portal: 'hubspot:1', connector });
    const s = await again.runOnce('hubspot:1', { types: ['contacts'] });
    // only the 4 contacts after the committed page were read again (pages 4, 5 and the empty end)
    expect(s.streams.find((x) => x.type === 'contacts')).toMatchObject({ status: 'ok', records: 4, pages: 3 });
    expect((await store.records.counts('hubspot:1'))['contacts']?.live).toBe(10);
    await again.stop();
  });

  it("stop waits for a pass a job runs (runOnce) to commit its page and end, so the store outlives it", async () => {
    open();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let contactPages = 0;
    const connector = crm('hubspot:1', 10, { beforeRequest: (r) => (r.op === 'changes' && r.type === 'contacts' && ++contactPages === 2 ? held : undefined) });
    const daemon = createDaemon({ store, logger: silentLogger, intervalMs: 60_000, score: async () => ({ scored: 0, enqueued: 0 }) });
    daemon.addPortal({ portal: 'hubspot:1', connector });
    const pass = daemon.runOnce('hubspot:1');
    await until(() => contactPages === 2);
    let passEnded = false;
    void pass.then(() => (passEnded = true));
    const stopped = daemon.stop().then(() => passEnded);
    release();
    // the pass had ended when stop resolved (before, stop ignored it and the store closed under it)
    expect(await stopped).toBe(true);
    expect((await pass).streams.find((x) => x.type === 'contacts')).toMatchObject({ status: 'aborted', pages: 2 });
    expect((await store.records.counts('hubspot:1'))['contacts']?.live).toBe(4);
  });
});

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}
