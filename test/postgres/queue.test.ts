/**
 * The job queue (src/work/queue.ts) on a real PostgreSQL server: webhook bursts coalesce into one
 * pending pass per portal, a portal never runs twice at once while different portals run side by
 * side, a request wakes an idle worker at once (LISTEN/NOTIFY), a failing job is retried and then
 * dead-lettered with its reason, and a job whose worker process is killed (-9) is taken over by
 * another worker.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../../src/log.ts';
import { PgBoss, TestClock } from 'pg-boss';
import { createJobQueue, SYNC_QUEUE, type JobQueue } from '../../src/work/queue.ts';
import { createDatabase } from '../support/postgres.ts';

let url: string;
let seq = 0;
const open: JobQueue[] = [];
beforeAll(async () => {
  url = await createDatabase(inject('postgresUrl'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((q) => q.stop(2_000)));
});
afterAll(() => {});

/** a queue in a schema of its own, so tests do not see each other's jobs */
async function queue(over: Partial<Parameters<typeof createJobQueue>[0]> = {}, schema = `q${++seq}`): Promise<JobQueue> {
  const q = await createJobQueue({ url, schema, logger: silentLogger, pollingIntervalSeconds: 0.5, ...over });
  open.push(q);
  return q;
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('job queue (pg-boss)', () => {
  it('the periodic tick comes once per interval, whatever the interval: every 45 minutes (a cron step ticked at :00 and :45, 15 minutes apart)', async () => {
    const clock = new TestClock('2026-03-02T10:00:30Z');
    const q = await queue({ clock, pollingIntervalSeconds: 20 });
    const ticks: string[] = [];
    await q.schedulePasses(45, async () => {
      ticks.push(new Date(clock.now()).toISOString().slice(11, 16));
      return [];
    });
    for (let minute = 0; minute < 180; minute++) await clock.tick(60_000);
    await until('the last tick handled', () => ticks.includes('12:45'), 10_000);
    // the first within a minute of the schedule, then one per 45-minute slot (slots count from the epoch)
    expect(ticks).toEqual(['10:01', '10:30', '11:15', '12:00', '12:45']);
  }, 120_000);

  it('a tick queues a pass for every due portal, and none more for a portal whose pass is queued already', async () => {
    const clock = new TestClock('2026-03-02T10:00:30Z');
    const q = await queue({ clock, pollingIntervalSeconds: 20 });
    expect(await q.requestSync('hubspot:2')).toBe(true);
    let ticked = 0;
    await q.schedulePasses(1, async () => {
      ticked++;
      return ['hubspot:1', 'hubspot:2', 'hubspot:3'];
    });
    await clock.tick(60_000);
    await until('the tick handled', async () => ticked > 0 && (await q.counts()).queued === 3, 10_000);
    for (const p of ['hubspot:1', 'hubspot:2', 'hubspot:3']) expect((await q.portalJobs(p)).queued).toBe(1);
    // asked directly: only the portals without a queued pass get one
    expect(await q.requestPasses(['hubspot:3', 'hubspot:4'])).toBe(1);
    expect(await q.requestPasses([])).toBe(0);
    expect((await q.counts()).queued).toBe(4);
  }, 60_000);

  it('a burst of requests for a portal yields one pending pass; another portal gets its own', async () => {
    const q = await queue();
    const results = await Promise.all(Array.from({ length: 50 }, () => q.requestSync('hubspot:1')));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await q.requestSync('hubspot:2')).toBe(true);
    expect(await q.counts()).toEqual({ queued: 2, active: 0 });
  });

  it('a burst of 200 requests from one process costs two database sends (the first and one after the window), and every caller gets an answer', async () => {
    const q = await queue();
    const answers = await Promise.all(Array.from({ length: 200 }, () => q.requestSync('hubspot:4')));
    expect(q.sent()).toBe(2);
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await q.counts()).toEqual({ queued: 1, active: 0 });
    // a later request, after the window, is sent again (joining the queued pass)
    await new Promise((r) => setTimeout(r, 250));
    expect(await q.requestSync('hubspot:4')).toBe(false);
    expect(q.sent()).toBe(3);
  });

  it('runs portals side by side, never one portal twice at once; a request during a pass queues exactly one more', async () => {
    const q = await queue();
    const active = new Map<string, number>();
    let overlap = 0;
    let together = 0;
    const passes: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await q.requestSync('hubspot:1');
    await q.requestSync('hubspot:2');
    await q.work(
      async (portal) => {
        active.set(portal, (active.get(portal) ?? 0) + 1);
        if ((active.get(portal) ?? 0) > 1) overlap++;
        if ([...active.values()].filter((n) => n > 0).length > 1) together++;
        await gate;
        passes.push(portal);
        active.set(portal, (active.get(portal) ?? 0) - 1);
      },
      { concurrency: 4 },
    );
    await until('both portals running', () => active.get('hubspot:1') === 1 && active.get('hubspot:2') === 1);
    // while hubspot:1 runs: one more pass may queue, further requests join it
    expect(await q.requestSync('hubspot:1')).toBe(true);
    expect(await q.requestSync('hubspot:1')).toBe(false);
    release();
    await until('three passes', () => passes.length === 3);
    await new Promise((r) => setTimeout(r, 1_500)); // nothing more arrives
    expect(passes.sort()).toEqual(['hubspot:1', 'hubspot:1', 'hubspot:2']);
    expect(overlap).toBe(0);
    expect(together).toBeGreaterThan(0);
  });

  it('records a webhook asked to re-read reach the next pass even when its request joined a queued one, and only once', async () => {
    const q = await queue();
    expect(await q.requestSync('hubspot:3', { type: 'contacts', ids: ['101'] })).toBe(true);
    expect(await q.requestSync('hubspot:3', { type: 'companies', ids: ['7', '8'] })).toBe(false);
    const seen: { portal: string; refresh: unknown[] }[] = [];
    await q.work(async (portal, refresh) => void seen.push({ portal, refresh }), { concurrency: 1 });
    await until('the pass', () => seen.length === 1);
    expect(seen[0]!.refresh).toEqual(expect.arrayContaining([{ type: 'contacts', ids: ['101'] }, { type: 'companies', ids: ['7', '8'] }]));
    expect(seen[0]!.refresh).toHaveLength(2);
    await q.requestSync('hubspot:3');
    await until('the second pass', () => seen.length === 2);
    expect(seen[1]!.refresh).toEqual([]);
  });

  it('a request from another process wakes an idle worker at once (LISTEN/NOTIFY), not after its polling interval', async () => {
    const schema = `q${++seq}`;
    // a worker that would poll only every 60 s, and a web process that only enqueues
    const worker = await queue({ pollingIntervalSeconds: 60, listen: true }, schema);
    const web = await queue({}, schema);
    const started: number[] = [];
    await worker.work(async () => void started.push(performance.now()), { concurrency: 1 });
    // its first fetch (on work) found nothing: from now on only a notification wakes it early
    await new Promise((r) => setTimeout(r, 300));
    const asked = performance.now();
    expect(await web.requestSync('hubspot:20')).toBe(true);
    await until('the pass', () => started.length === 1, 10_000);
    expect(started[0]! - asked).toBeLessThan(2_000);
  });

  it('a sync queue created before it was notify-enabled is switched over on start', async () => {
    const schema = `q${++seq}`;
    const boss = new PgBoss({ connectionString: url, schema, max: 1, supervise: false, schedule: false });
    boss.on('error', () => undefined);
    await boss.start();
    await boss.createQueue(SYNC_QUEUE, { policy: 'stately' });
    expect((await boss.getQueue(SYNC_QUEUE))?.notify).toBe(false);
    await queue({}, schema);
    expect((await boss.getQueue(SYNC_QUEUE))?.notify).toBe(true);
    await boss.stop({ graceful: false, close: true });
  });

  it('a failing pass is retried with backoff, then dead-lettered with its reason for rapport status', async () => {
    const q = await queue({ retryLimit: 1, retryDelaySeconds: 1 });
    let attempts = 0;
    await q.requestSync('hubspot:9');
    await q.work(
      async () => {
        attempts++;
        throw new Error('portal hubspot:9 is not connected in this deployment');
      },
      { concurrency: 1 },
    );
    await until('dead letter', async () => (await q.failed()).length === 1, 30_000);
    expect(attempts).toBe(2);
    const [failed] = await q.failed();
    expect(failed).toMatchObject({ portal: 'hubspot:9', error: 'portal hubspot:9 is not connected in this deployment' });
    expect(await q.counts()).toEqual({ queued: 0, active: 0 });
    // the per-portal view `rapport status` prints
    expect(await q.portalJobs('hubspot:9')).toMatchObject({ queued: 0, active: 0, failed: [{ error: 'portal hubspot:9 is not connected in this deployment' }] });
    expect(await q.portalJobs('hubspot:10')).toEqual({ queued: 0, active: 0, failed: [] });
    // a second portal out of retries: newest first, and the limit keeps the newest
    await q.requestSync('hubspot:11');
    await until('second dead letter', async () => (await q.failed()).length === 2, 30_000);
    expect((await q.failed()).map((f) => f.portal)).toEqual(['hubspot:11', 'hubspot:9']);
    expect((await q.failed(1)).map((f) => f.portal)).toEqual(['hubspot:11']);
    expect(await q.counts()).toEqual({ queued: 0, active: 0 });
  });

  it('a job whose worker is killed (-9) mid-pass is taken over by another worker after its heartbeat lapses', async () => {
    const schema = `q${++seq}`;
    const q = await queue({ heartbeatSeconds: 10, monitorIntervalSeconds: 1, retryDelaySeconds: 1 }, schema);
    await q.requestSync('hubspot:5');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/postgres/fixtures/queue-worker.ts', url, schema], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const started = new Promise<string>((resolve) => lines.on('line', (l) => l.startsWith('started') && resolve(l)));
    expect(await started).toBe('started hubspot:5');
    expect(await q.counts()).toMatchObject({ active: 1 });
    child.kill('SIGKILL');
    const t0 = Date.now();
    const done: string[] = [];
    await q.work(async (portal) => void done.push(portal), { concurrency: 1 });
    await until('the job taken over', () => done.length === 1, 40_000);
    expect(done).toEqual(['hubspot:5']);
    // not before the heartbeat lapsed: a slow worker keeps its job
    expect(Date.now() - t0).toBeGreaterThan(5_000);
    expect(await q.failed()).toEqual([]);
  }, 60_000);
});
