/**
 * The deployment's periodic tick (src/work/scheduled-passes.ts): with workers, an org whose change
 * events are live is polled only every CDC poll interval, as the single process does
 * (test/unit/sync/daemon-poll.test.ts); every other connected portal at every tick.
 */
import { afterEach, expect, it } from 'vitest';
import { CHANGE_STREAM_CURSOR } from '../../../src/connectors/provider.ts';
import type { Cursor } from '../../../src/connectors/types.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { portalsDue } from '../../../src/work/scheduled-passes.ts';

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
});

const MIN = 60_000;
const streamRow = (state: string, pollEveryMs = 15 * MIN) =>
  JSON.stringify({ replayId: 7, position: 7, channel: '/data/ChangeEvents', state, pollEveryMs, lastError: null, events: 3, echoes: 0, gaps: 0, overflows: 0, nudges: 3, reconnects: 0 }) as Cursor;

it('skips a portal with live change events until its poll interval has passed since its oldest stream run; the others are due every tick', async () => {
  let t = 1_000 * MIN;
  store = createStore({ path: ':memory:', now: () => t });
  for (const [portal, crm] of [
    ['hubspot:1', 'hubspot'],
    ['salesforce:live', 'salesforce'],
    ['salesforce:retrying', 'salesforce'],
    ['salesforce:gone', 'salesforce'],
  ] as const) {
    await store.portals.upsert({ portal, crm, externalId: portal, baseUrl: 'http://127.0.0.1:1', scopes: [] });
  }
  await store.portals.markDisconnected('salesforce:gone', 'uninstalled');
  await store.cursors.set('salesforce:live', CHANGE_STREAM_CURSOR, streamRow('live'));
  await store.cursors.set('salesforce:retrying', CHANGE_STREAM_CURSOR, streamRow('retrying'));
  const due = () => portalsDue(store!, { now: t, tickMs: 5 * MIN });

  // never polled yet: due, live or not
  expect(await due()).toEqual(['hubspot:1', 'salesforce:live', 'salesforce:retrying']);

  // a pass ran every stream at t (an event's pass counts as much as a scheduled one)
  for (const stream of ['contacts', 'companies']) await store.syncRuns.finish(await store.syncRuns.start('salesforce:live', stream), 'ok');
  t += 5 * MIN;
  expect(await due()).toEqual(['hubspot:1', 'salesforce:retrying']);
  t += 5 * MIN;
  expect(await due()).toEqual(['hubspot:1', 'salesforce:retrying']);
  // 12.5 of 15 minutes (half a tick of slack): due
  t += 2.5 * MIN;
  expect(await due()).toEqual(['hubspot:1', 'salesforce:live', 'salesforce:retrying']);

  // one stream ran again, the other not: the oldest counts
  t -= 2.5 * MIN;
  await store.syncRuns.finish(await store.syncRuns.start('salesforce:live', 'contacts'), 'ok');
  t += 2.5 * MIN;
  expect(await due()).toContain('salesforce:live');

  // a stored row that does not parse is no live stream: polled as usual
  await store.cursors.set('salesforce:live', CHANGE_STREAM_CURSOR, '{"state":"live"' as Cursor);
  await store.syncRuns.finish(await store.syncRuns.start('salesforce:live', 'companies'), 'ok');
  expect(await due()).toContain('salesforce:live');
});
