/**
 * Group commit of sync pages: pages of different portals that arrive while another group is
 * committing wait and then commit together, in one transaction of a few statements, instead of
 * one transaction each.
 *
 * Why: a worker syncs many portals at once, and their pages arrived as concurrent transactions
 * of ~100 records each. Measured here (20 portals × 10,000 contacts through the Postgres store's
 * commitPage, CPU of the Postgres server per record): 32–38 µs for pages of 100 committed one at
 * a time, 42–53 µs for the same pages from 4–10 concurrent sessions, which queued on the tables'
 * relation extension locks (pg_stat_activity showed `Lock:extend` on records and associations
 * inserts), and 26–31 µs for groups of 400–1,000 rows. Fewer, larger statements also cost fewer
 * round trips and less planning per row (docs/deploy.md "Sizing" has the side-by-side runs).
 *
 * Pages of one portal keep their order and never share a group (their cursors and run progress
 * are one row per portal and stream, which one statement may not update twice); a page that
 * must commit alone (a sweep's tombstones, records of another portal) forms its own group; a
 * page arriving while nothing commits starts at once, so an idle store adds no latency. When a
 * group fails, each of its pages is retried alone, so only a bad page fails. This module knows
 * nothing of SQL: `commit` and `commitAlone` are the store's (store.ts).
 */

/** A page could not join its group (its portal's lock is held elsewhere): it commits alone. */
export const ALONE = Symbol('alone');

export type GroupCommitOptions<P, R> = {
  portalOf: (page: P) => string;
  sizeOf: (page: P) => number;
  /** whether a page may share a transaction with other portals' pages */
  joinable: (page: P) => boolean;
  /** a group stops growing at this many records (a page larger than that still goes, alone) */
  maxRecords: number;
  /** groups committing at once */
  maxInFlight: number;
  /** commits pages of distinct portals in one transaction; per page its result, or ALONE */
  commit: (pages: readonly P[]) => Promise<readonly (R | typeof ALONE)[]>;
  /** commits one page in its own transaction, waiting for its portal's lock */
  commitAlone: (page: P) => Promise<R>;
};

type Waiter<P, R> = { page: P; portal: string; resolve: (r: R) => void; reject: (e: unknown) => void };

/** Returns the function that commits a page, with others when they come together. */
export function groupCommit<P, R>(o: GroupCommitOptions<P, R>): (page: P) => Promise<R> {
  const queue: Waiter<P, R>[] = [];
  // portals with a page committing: their next page waits, so each portal's pages keep their order
  const busy = new Set<string>();
  let inFlight = 0;

  const take = (): Waiter<P, R>[] => {
    const group: Waiter<P, R>[] = [];
    const seen = new Set<string>();
    let size = 0;
    for (let i = 0; i < queue.length && size < o.maxRecords; ) {
      const w = queue[i]!;
      const first = !busy.has(w.portal) && !seen.has(w.portal);
      seen.add(w.portal);
      const joinable = o.joinable(w.page);
      const fits = group.length === 0 || (joinable && size + o.sizeOf(w.page) <= o.maxRecords);
      if (!first || !fits) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      group.push(w);
      size += o.sizeOf(w.page);
      if (!joinable) break;
    }
    for (const w of group) busy.add(w.portal);
    return group;
  };

  const settle = (w: Waiter<P, R>, run: () => Promise<R>): Promise<void> =>
    run()
      .then(w.resolve, w.reject)
      .finally(() => {
        busy.delete(w.portal);
        pump();
      });

  const runGroup = async (group: Waiter<P, R>[]): Promise<void> => {
    if (group.length === 1) return settle(group[0]!, () => o.commitAlone(group[0]!.page));
    let results: readonly (R | typeof ALONE)[];
    try {
      results = await o.commit(group.map((w) => w.page));
    } catch {
      results = group.map(() => ALONE);
    }
    for (const [i, w] of group.entries()) {
      const r = results[i];
      if (r === ALONE || r === undefined) {
        // outside the in-flight count: a page waiting for its lock does not hold up the others
        void settle(w, () => o.commitAlone(w.page));
      } else {
        void settle(w, () => Promise.resolve(r));
      }
    }
  };

  const pump = (): void => {
    while (inFlight < o.maxInFlight) {
      const group = take();
      if (group.length === 0) return;
      inFlight++;
      void runGroup(group).finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  return (page) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ page, portal: o.portalOf(page), resolve, reject });
      pump();
    });
}
