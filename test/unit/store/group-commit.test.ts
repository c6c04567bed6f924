import { describe, expect, it } from 'vitest';
import { ALONE, groupCommit, type GroupCommitOptions } from '../../../src/store/postgres/group-commit.ts';

/** The batcher alone, over plain functions that record what they were asked to commit. */

type Page = { portal: string; n: number; alone?: boolean; bad?: boolean; held?: boolean };
const deferred = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};
const tick = () => new Promise((r) => setTimeout(r, 0));
const name = (p: Page) => `${p.portal}#${p.n}`;

function harness(o: Partial<GroupCommitOptions<Page, string>> = {}) {
  const log: string[][] = [];
  let gate = deferred();
  const commit = groupCommit<Page, string>({
    portalOf: (p) => p.portal,
    sizeOf: () => 100,
    joinable: (p) => p.alone !== true,
    maxRecords: 1000,
    maxInFlight: 1,
    commit: async (pages) => {
      log.push(pages.map(name));
      await gate.p;
      if (pages.some((p) => p.bad === true)) throw new Error('refused');
      return pages.map((p) => (p.held === true ? ALONE : `together ${name(p)}`));
    },
    commitAlone: async (p) => {
      log.push([`alone ${name(p)}`]);
      await gate.p;
      if (p.bad === true) throw new Error(`refused ${name(p)}`);
      return `alone ${name(p)}`;
    },
    ...o,
  });
  return {
    commit,
    log,
    release: () => {
      gate.open();
      gate = deferred();
    },
  };
}

describe('group commit of pages', () => {
  it('commits a page at once when nothing else commits; pages that come meanwhile commit together, one page per portal, in order', async () => {
    const h = harness();
    const first = h.commit({ portal: 'a', n: 1 });
    await tick();
    expect(h.log).toEqual([['alone a#1']]); // no waiting for company
    const rest = [h.commit({ portal: 'a', n: 2 }), h.commit({ portal: 'b', n: 1 }), h.commit({ portal: 'b', n: 2 }), h.commit({ portal: 'c', n: 1 })];
    await tick();
    expect(h.log).toHaveLength(1); // one group in flight at a time
    h.release();
    expect(await first).toBe('alone a#1');
    await tick();
    expect(h.log[1]).toEqual(['a#2', 'b#1', 'c#1']);
    h.release();
    await tick();
    expect(h.log[2]).toEqual(['alone b#2']);
    h.release();
    expect(await Promise.all(rest)).toEqual(['together a#2', 'together b#1', 'alone b#2', 'together c#1']);
  });

  it('a failed group retries each page alone: only the bad page fails', async () => {
    const h = harness();
    const first = h.commit({ portal: 'x', n: 1 });
    const pages = [h.commit({ portal: 'a', n: 1 }), h.commit({ portal: 'b', n: 1, bad: true }), h.commit({ portal: 'c', n: 1 })];
    h.release();
    await first;
    await tick();
    h.release(); // the group fails; its pages go alone
    await tick();
    h.release();
    const out = await Promise.allSettled(pages);
    expect(out.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual(['alone a#1', 'refused b#1', 'alone c#1']);
    expect(h.log[1]).toEqual(['a#1', 'b#1', 'c#1']);
  });

  it("a page whose portal's lock is held elsewhere commits alone and holds up neither the others nor the next group", async () => {
    const h = harness();
    const first = h.commit({ portal: 'x', n: 1 });
    const held = h.commit({ portal: 'a', n: 1, held: true });
    const b = h.commit({ portal: 'b', n: 1 });
    h.release();
    await first;
    await tick();
    h.release(); // the group commits b; a goes alone and waits
    expect(await b).toBe('together b#1');
    const later = [h.commit({ portal: 'a', n: 2 }), h.commit({ portal: 'c', n: 1 }), h.commit({ portal: 'd', n: 1 })];
    await tick();
    // a#2 waits behind a#1 (its portal is busy); c commits meanwhile, at once: nothing else was in flight
    expect(h.log.slice(2)).toEqual([['alone a#1'], ['alone c#1']]);
    h.release();
    expect(await held).toBe('alone a#1');
    expect(await later[1]).toBe('alone c#1');
    await tick();
    expect(h.log[4]).toEqual(['a#2', 'd#1']);
    h.release();
    expect(await Promise.all([later[0], later[2]])).toEqual(['together a#2', 'together d#1']);
  });

  it('a page that must commit alone forms its own group, and a group stops growing at maxRecords', async () => {
    const h = harness({ maxRecords: 250 });
    const first = h.commit({ portal: 'x', n: 1 });
    const pages = [h.commit({ portal: 'a', n: 1, alone: true }), h.commit({ portal: 'b', n: 1 }), h.commit({ portal: 'c', n: 1 }), h.commit({ portal: 'd', n: 1 })];
    for (let i = 0; i < 4; i++) {
      h.release();
      await tick();
    }
    await Promise.all([first, ...pages]);
    expect(h.log).toEqual([['alone x#1'], ['alone a#1'], ['b#1', 'c#1'], ['alone d#1']]);
  });
});
