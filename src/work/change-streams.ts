/**
 * Change notification subscriptions (Salesforce Change Data Capture) in a deployment of worker
 * processes (docs/ARCHITECTURE.md "Many processes"): exactly one worker holds each portal's
 * subscription. A worker subscribes only while it holds the portal's session lock (a Postgres
 * session-level advisory lock, src/store/postgres/session-locks.ts); the lock goes with the
 * worker's database session, so a worker killed -9 frees its portals at once and another worker
 * takes them over at its next round (every `everyMs`). An event becomes a queued pass (the job
 * queue, as a webhook through the web role does); the subscription stores its replay id per portal
 * once the pass is queued, so the next holder resumes exactly after the last event queued. The
 * subscriptions are shared out evenly: a worker holds at most its share (portals ÷ the workers'
 * lock sessions, rounded up) and hands back what is over it when more workers start.
 *
 * Chosen over a never-ending pg-boss singleton job per portal: such a job occupies one of the
 * worker's job slots for ever, must outlive pg-boss's job expiry, and is taken over only after its
 * heartbeat lapses and its retry delay passes; a session lock costs one connection per worker and
 * is free the moment its holder's connection closes.
 */
import type { ChangeStream } from '../connectors/provider.ts';
import type { ObjectType } from '../connectors/types.ts';
import type { Logger } from '../log.ts';
import type { SessionLocks } from '../store/index.ts';

export type ChangeStreamHolderDeps = {
  /** the portals that should have a subscription: connected, with a provider that has change streams */
  portals(): Promise<string[]>;
  /** starts a portal's subscription in this process (main.ts `openChangeStream`) */
  open(portal: string, nudge: (types: ObjectType[]) => Promise<void>): Promise<ChangeStream | undefined>;
  /** queues a pass over the portal; resolves once the request is stored */
  requestPass(portal: string): Promise<unknown>;
  locks: Pick<SessionLocks, 'tryAcquire' | 'release' | 'alive' | 'peers'>;
  logger: Logger;
  /** how often to look for portals to take over (a dead holder's are free at once) */
  everyMs: number;
};

export type ChangeStreamHolder = {
  /** portals whose subscription this process holds */
  held(): string[];
  /** one round now (tests); rounds never overlap */
  round(): Promise<void>;
  /** a lost lock session: stop every subscription at once (another worker may hold them now) */
  lost(reason: string): void;
  stop(): Promise<void>;
};

const lockName = (portal: string) => `change-stream:${portal}`;

export function holdChangeStreams(deps: ChangeStreamHolderDeps): ChangeStreamHolder {
  const held = new Map<string, ChangeStream>();
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const drop = async (portal: string, release: boolean) => {
    const stream = held.get(portal);
    held.delete(portal);
    await stream?.stop().catch(() => undefined);
    if (release) await deps.locks.release(lockName(portal)).catch(() => undefined);
  };
  const dropAll = (reason: string) => {
    if (held.size === 0) return Promise.resolve();
    deps.logger.warn({ portals: held.size, reason }, 'change events lock session lost: stopping the subscriptions held here');
    return Promise.all([...held.keys()].map((p) => drop(p, false))).then(() => undefined);
  };

  async function once(): Promise<void> {
    if (held.size > 0 && !(await deps.locks.alive())) await dropAll('lock session lost');
    const wanted = new Set(await deps.portals());
    for (const portal of [...held.keys()]) if (!wanted.has(portal)) await drop(portal, true);
    // An even share per running worker (their lock sessions), so that one worker started first does
    // not keep every subscription. Past its share (workers joined) a worker hands the newest back:
    // another takes each over at its next round and resumes from the stored replay id.
    const share = Math.ceil(wanted.size / (await deps.locks.peers()));
    for (const portal of [...held.keys()].slice(share)) {
      deps.logger.info({ portal, share }, 'handing the change events subscription to another worker');
      await drop(portal, true);
    }
    for (const portal of wanted) {
      if (stopped || held.size >= share) return;
      if (held.has(portal) || !(await deps.locks.tryAcquire(lockName(portal)))) continue;
      let stream: ChangeStream | undefined;
      try {
        stream = await deps.open(portal, (types) => nudge(portal, types));
      } catch (e) {
        deps.logger.warn({ portal, err: (e as Error).message }, 'could not start the change events subscription; retrying next round');
      }
      if (stream === undefined || stopped) {
        await stream?.stop();
        await deps.locks.release(lockName(portal));
        continue;
      }
      held.set(portal, stream);
      deps.logger.info({ portal }, 'holding the change events subscription');
      // events a previous holder took but had not queued when it died are replayed only if their
      // replay id was not stored yet; one pass now covers the rest (every stream from its cursor)
      await deps.requestPass(portal).catch((e: unknown) => deps.logger.warn({ portal, err: (e as Error).message }, 'could not queue the takeover pass; the periodic pass catches up'));
    }
  }

  /**
   * A change event: a pass from the queue, as a webhook's. The subscription stores its replay id
   * once this resolves, so it resolves only once the request is stored (retried while the database
   * is away); at shutdown it rejects, and the next holder queues a pass when it takes over.
   */
  async function nudge(portal: string, types: ObjectType[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (stopped || !held.has(portal)) throw new Error('change events subscription stopped');
      try {
        await deps.requestPass(portal);
        deps.logger.info({ portal, types: types.length }, 'change event: pass queued');
        return;
      } catch (e) {
        deps.logger.warn({ portal, err: (e as Error).message }, 'could not queue the pass a change event asked for; retrying');
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  const round = () => {
    running = running.then(once).catch((e: unknown) => deps.logger.warn({ err: (e as Error).message }, 'change events round failed; retrying next round'));
    return running;
  };
  const loop = () => {
    if (stopped) return;
    void round().then(() => {
      if (stopped) return;
      timer = setTimeout(loop, deps.everyMs);
      timer.unref?.();
    });
  };
  loop();

  return {
    held: () => [...held.keys()],
    round,
    lost: (reason) => void dropAll(reason),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await Promise.all([...held.keys()].map((p) => drop(p, true)));
    },
  };
}
