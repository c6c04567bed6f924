import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeConnector, type FakeConnector, type FakeRequest } from '../../../src/connectors/fake.ts';
import type { ContactData } from '../../../src/connectors/types.ts';
import { silentLogger } from '../../../src/log.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { syncStream } from '../../../src/sync/sync-stream.ts';
import { tempDir } from '../../support/temp-dir.ts';

// syncStream reads one page ahead (issue 16): page N+1 is requested while page N is committed,
// commits stay in page order, each with its own cursor.

const portal = 'hubspot:1';
const data: ContactData = { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: null, lastName: null, createdAt: null, lifecycleStage: null };

let dir: ReturnType<typeof tempDir>;
let store: Store;
afterEach(async () => {
  await store.close();
  dir.cleanup();
});

/** 7 contacts, 2 a page: pages [1,2] [3,4] [5,6] [7]; `events` logs each page request and each commit's start and end */
function setup(hold: (r: FakeRequest) => Promise<void> | undefined = () => undefined): { connector: FakeConnector; events: string[] } {
  dir = tempDir();
  store = createStore({ path: join(dir.path, 'r.db') });
  const events: string[] = [];
  const connector = createFakeConnector({
    portal,
    pageSize: 2,
    beforeRequest: (r) => {
      if (r.op === 'changes' && r.type === 'contacts') events.push('fetch');
      return hold(r);
    },
  });
  for (let i = 1; i <= 7; i++) connector.put({ type: 'contacts', id: String(i), data: { ...data, firstName: `c${i}` } });
  return { connector, events };
}

/** the store, with each commit logged and slowed (a commit takes a while: a round trip or more) and `during(n)` run inside commit n */
function slowCommits(events: string[], during: (n: number) => void = () => {}): Store {
  let n = 0;
  return {
    ...store,
    async commitPage(page) {
      const k = ++n;
      events.push(`commit ${k} start`);
      during(k);
      await new Promise((r) => setTimeout(r, 20));
      const changed = await store.commitPage(page);
      events.push(`commit ${k} end`);
      return changed;
    },
  };
}

const contactIds = async () => (await store.records.ids(portal, 'contacts')).sort((a, b) => Number(a) - Number(b));

describe('syncStream reads one page ahead', () => {
  it('requests page N+1 while page N is being committed, and commits the pages in order', async () => {
    const { connector, events } = setup();
    const r = await syncStream({ store: slowCommits(events), connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(r).toMatchObject({ status: 'ok', pages: 4, records: 7 });
    // page k+1 is requested before commit k starts (one request ahead, no more); without the
    // read-ahead each request would come after the previous commit's end
    expect(events).toEqual([
      'fetch',
      'fetch',
      'commit 1 start',
      'commit 1 end',
      'fetch',
      'commit 2 start',
      'commit 2 end',
      'fetch',
      'commit 3 start',
      'commit 3 end',
      'commit 4 start',
      'commit 4 end',
    ]);
    expect(await contactIds()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  it('a crash in a commit while the next page is in flight: nothing after the last commit is kept, and the next run resumes exactly there', async () => {
    const { connector, events } = setup();
    let n = 0;
    let requested = 0;
    const failing: Store = {
      ...store,
      async commitPage(page) {
        if (++n === 3) {
          requested = events.length;
          throw new Error('connection terminated');
        }
        return store.commitPage(page);
      },
    };
    const first = await syncStream({ store: failing, connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(first).toMatchObject({ status: 'failed', pages: 2, records: 4 });
    // page 4 was requested when commit 3 failed: neither it nor its cursor is kept
    expect(requested).toBe(4);
    expect(await contactIds()).toEqual(['1', '2', '3', '4']);
    // the rerun reads from page 3: no page skipped, none read twice
    const again = await syncStream({ store, connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(again).toMatchObject({ status: 'ok', pages: 2, records: 3 });
    expect(await contactIds()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  it('a failed request for page N+1 fails the stream only after page N is committed', async () => {
    const { connector, events } = setup();
    connector.failNext('invalid_request', 1, { op: 'changes' });
    // the first request fails: nothing committed
    expect(await syncStream({ store: slowCommits(events), connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal })).toMatchObject({
      status: 'failed',
      pages: 0,
    });
    // the request for page 2 fails while page 1 is committed: page 1 and its cursor stay
    const r = await syncStream(
      {
        store: slowCommits(events, (k) => k === 1 && connector.failNext('invalid_request', 1, { op: 'changes' })),
        connector,
        portal,
        logger: silentLogger,
      },
      'contacts',
      { signal: new AbortController().signal },
    );
    expect(r).toMatchObject({ status: 'failed', pages: 1, records: 2, error: { kind: 'invalid_request' } });
    expect(await contactIds()).toEqual(['1', '2']);
    const again = await syncStream({ store, connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(again).toMatchObject({ status: 'ok', records: 5 });
  });

  it('a stop during a commit: that page and the one requested ahead are committed, nothing more is requested', async () => {
    const { connector, events } = setup();
    const stop = new AbortController();
    const r = await syncStream({ store: slowCommits(events, (k) => k === 2 && stop.abort()), connector, portal, logger: silentLogger }, 'contacts', { signal: stop.signal });
    expect(r).toMatchObject({ status: 'aborted', pages: 3, records: 6 });
    expect(events).toEqual(['fetch', 'fetch', 'commit 1 start', 'commit 1 end', 'fetch', 'commit 2 start', 'commit 2 end', 'commit 3 start', 'commit 3 end']);
    const again = await syncStream({ store, connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(again).toMatchObject({ status: 'ok', pages: 1, records: 1 });
    expect(await contactIds()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  it('a stop during a commit with no grace: the page requested ahead is dropped, and the next run reads it', async () => {
    const { connector, events } = setup();
    const stop = new AbortController();
    const r = await syncStream({ store: slowCommits(events, (k) => k === 2 && stop.abort()), connector, portal, logger: silentLogger }, 'contacts', {
      signal: stop.signal,
      graceMs: 0,
    });
    expect(r).toMatchObject({ status: 'aborted', pages: 2, records: 4 });
    expect(await contactIds()).toEqual(['1', '2', '3', '4']);
    const again = await syncStream({ store, connector, portal, logger: silentLogger }, 'contacts', { signal: new AbortController().signal });
    expect(again).toMatchObject({ status: 'ok', pages: 2, records: 3 });
    expect(await contactIds()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  it('a stop while waiting for a page: the request gets its grace period and its page is committed', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let n = 0;
    const { connector } = setup((req) => (req.op === 'changes' && ++n === 2 ? held : undefined));
    const stop = new AbortController();
    const stopAfterFirst: Store = {
      ...store,
      async commitPage(page) {
        const changed = await store.commitPage(page);
        // the stop comes once commit 1 is done, while page 2 is still on its way; it arrives within the grace period
        if (!stop.signal.aborted)
          setTimeout(() => {
            stop.abort();
            setTimeout(release, 20);
          }, 0);
        return changed;
      },
    };
    const r = await syncStream({ store: stopAfterFirst, connector, portal, logger: silentLogger }, 'contacts', { signal: stop.signal, graceMs: 5_000 });
    expect(r).toMatchObject({ status: 'aborted', pages: 2, records: 4 });
    expect(await contactIds()).toEqual(['1', '2', '3', '4']);
  });
});
