/**
 * The change-stream holder of `rapport worker` (src/work/change-streams.ts) over real session
 * locks on the test server: each portal's subscription is held by exactly one worker, and the
 * subscriptions are shared out evenly as workers come and go. The subscriptions themselves are
 * stand-ins (the Salesforce emulator's CDC runs in test/postgres/salesforce-workers.test.ts).
 */
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChangeStream } from '../../src/connectors/provider.ts';
import { silentLogger } from '../../src/log.ts';
import { createSessionLocks, type SessionLocks } from '../../src/store/index.ts';
import { holdChangeStreams, type ChangeStreamHolder } from '../../src/work/change-streams.ts';
import { createDatabase } from '../support/postgres.ts';

const PORTALS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
let url: string;
beforeAll(async () => {
  url = await createDatabase(inject('postgresUrl'));
});

/** subscriptions open now, per portal, across every worker of the test: never two for one portal */
const open = new Map<string, string>();
const passes: string[] = [];
const running: { holder: ChangeStreamHolder; locks: SessionLocks }[] = [];
afterEach(async () => {
  for (const w of running.splice(0)) {
    await w.holder.stop();
    await w.locks.close();
  }
  open.clear();
  passes.length = 0;
});

function worker(name: string): { holder: ChangeStreamHolder; locks: SessionLocks } {
  const locks = createSessionLocks(url, { applicationName: 'rapport-test-cdc-holders' });
  const holder = holdChangeStreams({
    portals: async () => PORTALS,
    open: async (portal) => {
      const other = open.get(portal);
      if (other !== undefined) throw new Error(`${name} opened ${portal}, which ${other} holds`);
      open.set(portal, name);
      const stream: ChangeStream = {
        status: () => ({ state: 'live', position: null, lastError: null, pollEveryMs: 60_000, events: 0, echoes: 0, gaps: 0, overflows: 0, nudges: 0, reconnects: 0 }),
        pollEveryMs: () => 60_000,
        ready: async () => {},
        stop: async () => {
          open.delete(portal);
        },
      };
      return stream;
    },
    requestPass: async (portal) => passes.push(portal),
    locks,
    logger: silentLogger,
    // rounds are driven by the test
    everyMs: 3_600_000,
  });
  const w = { holder, locks };
  running.push(w);
  return w;
}
const sorted = (xs: string[]) => [...xs].sort();

describe('change streams in a deployment of workers', () => {
  it('shares the subscriptions out evenly as workers start, and gives a dead worker’s to the others', async () => {
    const a = worker('a');
    await a.holder.round();
    expect(sorted(a.holder.held())).toEqual(PORTALS);

    // b starts: its share is 3, all taken, so it holds none until a hands its excess back
    const b = worker('b');
    await b.holder.round();
    expect(await a.locks.peers()).toBe(2);
    await a.holder.round();
    expect(a.holder.held()).toHaveLength(3);
    await b.holder.round();
    expect(b.holder.held()).toHaveLength(3);
    expect(sorted([...a.holder.held(), ...b.holder.held()])).toEqual(PORTALS);
    // stable: another round of each moves nothing
    const [heldA, heldB] = [a.holder.held(), b.holder.held()];
    await a.holder.round();
    await b.holder.round();
    expect([a.holder.held(), b.holder.held()]).toEqual([heldA, heldB]);

    // a third: 2 each once the rounds have gone around
    const c = worker('c');
    await c.holder.round();
    await a.holder.round();
    await b.holder.round();
    await c.holder.round();
    expect([a.holder.held().length, b.holder.held().length, c.holder.held().length]).toEqual([2, 2, 2]);
    expect(sorted([...a.holder.held(), ...b.holder.held(), ...c.holder.held()])).toEqual(PORTALS);

    // c's session ends as a killed process's would: its locks are free at once, the others take them
    const lost = c.holder.held();
    running.splice(running.indexOf(c), 1);
    await c.locks.close();
    c.holder.lost('test');
    await c.holder.stop();
    passes.length = 0;
    await a.holder.round();
    await b.holder.round();
    expect(a.holder.held().length + b.holder.held().length).toBe(6);
    expect(a.holder.held().length).toBe(3);
    // every portal taken over gets a pass: what its events said while nobody held it is read
    expect(sorted(passes)).toEqual(sorted(lost));
  });
});
