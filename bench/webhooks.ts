/**
 * `npm run bench:webhooks`: acknowledgement latency and throughput of POST /webhooks/hubspot for
 * deliveries of 100 events, side by side with a bare hono endpoint that only reads the body, on
 * the same machine. Each server runs in its own child process so the load generator does not
 * share its event loop. Goal (issue 5): p99 ≤ 20 ms at 500 deliveries/s. A third row (issue 12)
 * runs the same load against a Rapport whose 20,000-contact portal trains and scores the whole
 * time (train in a worker, full pass in worker threads, saved by the serving thread): the goal is
 * the same p99 for both rows.
 *
 * Options (env): BENCH_RATE (deliveries/s, default 500), BENCH_SECONDS (default 4),
 * BENCH_CONCURRENCY (closed-loop throughput phase, default 10 = HubSpot's default per account),
 * BENCH_TRAIN_CONTACTS (the training portal's size, default 20,000).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { loadConfig } from '../src/config.ts';
import { silentLogger } from '../src/log.ts';
import { createApp } from '../src/server/app.ts';
import { createPortalStatusCache } from '../src/server/portal-status.ts';
import { DEFAULT_CHURN_DEFINITION } from '../src/scoring/churn.ts';
import { createPortalScoring } from '../src/scoring/portal-scoring.ts';
import { openDatabase } from '../src/store/db.ts';
import { createStore } from '../src/store/index.ts';
import { reportFigures } from './figures.ts';
import { fillCache } from './seed-cache.ts';
import { closedLoop, merged, paced, signedDelivery, webhookClient, WEBHOOK_PATH as PATH, type Delivery, type PacedResult } from './paced-webhooks.ts';

const SECRET = 'bench-client-secret';
const PUBLIC_URL = 'https://rapport.bench.test';
const PORTAL_ID = 4242;
const EVENTS_PER_DELIVERY = 100;
const TRAIN_CONTACTS = Number(process.env['BENCH_TRAIN_CONTACTS'] ?? 20_000);
const DAY = 86_400_000;

type Kind = 'bare' | 'rapport' | 'training';

// ------------------------------------------------------------------ child: a server

async function runServer(kind: Kind): Promise<void> {
  let fetchHandler: (req: Request) => Response | Promise<Response>;
  let cleanup: () => Promise<void> | void = () => {};
  let startTraining = () => {};
  let stopTraining = () => {};
  const training = { started: 0, passes: 0, failed: 0 };
  // how long the serving thread's event loop was held up (ms), measured while training runs
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  if (kind === 'bare') {
    const app = new Hono();
    app.post(PATH, async (c) => {
      await c.req.text();
      return c.json({ ok: true });
    });
    fetchHandler = app.fetch;
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-'));
    const config = loadConfig(
      {
        RAPPORT_DB: join(dir, 'rapport.db'),
        RAPPORT_PUBLIC_URL: PUBLIC_URL,
        RAPPORT_ENCRYPTION_KEY: 'b2'.repeat(32),
        HUBSPOT_CLIENT_ID: 'bench',
        HUBSPOT_CLIENT_SECRET: SECRET,
      },
      join(dir, 'none.json'),
    );
    // as createRapport (`rapport serve`) opens it
    const store = createStore({ path: config.dbPath, encryptionKey: config.encryptionKey, backgroundCheckpoints: true });
    const portal = `hubspot:${PORTAL_ID}`;
    await store.portals.upsert({ portal, crm: 'hubspot', externalId: String(PORTAL_ID), baseUrl: 'http://unused', scopes: [] });
    if (kind === 'training') {
      // the portal's history, written below the port (bulk INSERTs), before the server starts
      const db = openDatabase(config.dbPath);
      fillCache(db, { portal, n: TRAIN_CONTACTS, now: Date.now(), afterBatch: () => {} });
      db.close();
      // every pass finds the models a week old (the clock moves 8 days per pass): train + full pass, again and again
      let clock = Date.now();
      const score = createPortalScoring({ store, logger: silentLogger, now: () => clock, churnDefinition: () => DEFAULT_CHURN_DEFINITION });
      let stop = false;
      startTraining = () => {
        loopDelay.enable();
        void (async () => {
          while (!stop) {
            clock += 8 * DAY;
            training.started++;
            const r = await score(portal).catch(() => undefined);
            if (r === undefined || !r.trained || !r.offThread) training.failed++;
            else training.passes++;
          }
        })();
      };
      stopTraining = () => void (stop = true);
    }
    let nudges = 0;
    const app = await createApp({
      store,
      config,
      logger: silentLogger,
      now: Date.now,
      // as createRapport (`rapport serve`) sets it up
      portalStatus: createPortalStatusCache({ portals: store.portals, now: Date.now }),
      nudge: () => void nudges++,
      onInstalled: () => {},
      rescore: async () => {},
    });
    fetchHandler = app.fetch;
    cleanup = async () => {
      // a pass still running fails on the closed store and ends the loop; exit follows
      stopTraining();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const server = serve({ fetch: fetchHandler, port: 0, hostname: '127.0.0.1' }, (info) => process.send?.({ port: info.port }));
  process.on('message', (m) => {
    if (m === 'train') {
      startTraining();
      process.send?.({ training: true });
    }
    if (m === 'training?') process.send?.({ ...training, loopP99Ms: loopDelay.percentile(99) / 1e6, loopMaxMs: loopDelay.max / 1e6 });
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send?.({ cpuMs: (u.user + u.system) / 1000 });
    }
    if (m === 'stop') {
      server.close();
      void Promise.resolve(cleanup()).finally(() => process.exit(0));
    }
  });
}

// ------------------------------------------------------------------ parent: the load generator (bench/paced-webhooks.ts)

let nextEventId = 1;
function delivery(): Delivery {
  const now = Date.now();
  const events = Array.from({ length: EVENTS_PER_DELIVERY }, (_, i) => ({
    eventId: nextEventId++,
    subscriptionId: 1000 + (i % 7),
    portalId: PORTAL_ID,
    appId: 1,
    occurredAt: now,
    subscriptionType: i % 3 === 0 ? 'object.creation' : 'contact.propertyChange',
    attemptNumber: 0,
    objectId: 100000 + i,
    ...(i % 3 === 0 ? { objectTypeId: '0-48', changeFlag: 'CREATED' } : { propertyName: i % 5 === 0 ? 'rapport_health' : 'firstname', propertyValue: 'v' }),
    changeSource: 'CRM_UI',
  }));
  return signedDelivery({ secret: SECRET, publicUrl: PUBLIC_URL, events, now });
}

async function startChild(kind: Kind): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind], { execArgv: ['--import', 'tsx', ...(process.env['BENCH_CPU_PROF'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

/** Asks the child and waits for its answer carrying `key`. */
function ask<T>(child: ChildProcess, question: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (typeof m === 'object' && m !== null && key in m) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send(question);
  });
}

/** The server process's CPU time so far (ms): per-delivery CPU is what contention on a busy machine does not inflate much. */
const cpuOf = async (child: ChildProcess): Promise<number> => (await ask<{ cpuMs: number }>(child, 'cpu', 'cpuMs')).cpuMs;

async function main(): Promise<void> {
  const rate = Number(process.env['BENCH_RATE'] ?? 500);
  const seconds = Number(process.env['BENCH_SECONDS'] ?? 4);
  const concurrency = Number(process.env['BENCH_CONCURRENCY'] ?? 10);
  const results: Record<string, { paced: PacedResult; loop: { perSecond: number; errors: number }; cpuMsPerDelivery: number }> = {};
  let trainingPasses = { started: 0, passes: 0, failed: 0, loopP99Ms: NaN, loopMaxMs: NaN };
  for (const kind of ['bare', 'rapport', 'training'] as const) {
    const { url, child } = await startChild(kind);
    const client = webhookClient(url);
    await closedLoop(client, concurrency, 300, delivery); // warm-up (JIT, SQLite pages, connections)
    if (kind === 'training') {
      await ask(child, 'train', 'training');
      // let the first training's worker start and read: the load then meets fitting and saving
      await new Promise((r) => setTimeout(r, 1500));
    }
    let p = await paced(client, rate, seconds, delivery);
    if (kind === 'training') {
      // go on until a whole pass (training, then the full rescoring saved by this server) has
      // run under the load, so the row covers both; at most a minute more
      const runs = [p];
      const until = performance.now() + 60_000;
      while ((await ask<{ passes: number }>(child, 'training?', 'passes')).passes < 1 && performance.now() < until) runs.push(await paced(client, rate, 2, delivery));
      p = merged(runs);
    }
    const loopCount = Math.max(500, rate * 2);
    const cpu0 = await cpuOf(child);
    const loop = await closedLoop(client, concurrency, loopCount, delivery);
    const cpuMsPerDelivery = ((await cpuOf(child)) - cpu0) / loopCount;
    results[kind] = { paced: p, loop, cpuMsPerDelivery };
    if (kind === 'training') trainingPasses = await ask(child, 'training?', 'passes');
    client.close();
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
  const bare = results['bare'];
  const rapport = results['rapport'];
  const busy = results['training'];
  if (bare === undefined || rapport === undefined || busy === undefined) throw new Error('missing results');
  const f = (n: number) => n.toFixed(2).padStart(8);
  // a run with no completed pass did not measure "while training" at all
  const busyMet = busy.paced.p99 <= 20 && busy.paced.errors === 0 && trainingPasses.started > 0 && trainingPasses.failed === 0;
  const lines = [
    `webhooks bench: deliveries of ${EVENTS_PER_DELIVERY} events, v3+v1 signed; open loop at ${rate}/s for ${seconds} s, then closed loop with ${concurrency} in flight`,
    '',
    '                     p50 ms   p99 ms   max ms   rate/s  errors | closed loop: deliveries/s  server CPU ms/delivery',
    `bare hono          ${f(bare.paced.p50)} ${f(bare.paced.p99)} ${f(bare.paced.max)} ${f(bare.paced.achievedRate)} ${String(bare.paced.errors).padStart(7)} | ${f(bare.loop.perSecond)}  ${f(bare.cpuMsPerDelivery)}`,
    `rapport receiver   ${f(rapport.paced.p50)} ${f(rapport.paced.p99)} ${f(rapport.paced.max)} ${f(rapport.paced.achievedRate)} ${String(rapport.paced.errors).padStart(7)} | ${f(rapport.loop.perSecond)}  ${f(rapport.cpuMsPerDelivery)}`,
    `rapport, training  ${f(busy.paced.p50)} ${f(busy.paced.p99)} ${f(busy.paced.max)} ${f(busy.paced.achievedRate)} ${String(busy.paced.errors).padStart(7)} | ${f(busy.loop.perSecond)}  ${f(busy.cpuMsPerDelivery)}`,
    `ratio rapport/bare ${f(rapport.paced.p50 / bare.paced.p50)} ${f(rapport.paced.p99 / bare.paced.p99)}                            | ${f(rapport.loop.perSecond / bare.loop.perSecond)}  ${f(rapport.cpuMsPerDelivery / bare.cpuMsPerDelivery)}`,
    `ratio training/idle${f(busy.paced.p50 / rapport.paced.p50)} ${f(busy.paced.p99 / rapport.paced.p99)}                            | ${f(busy.loop.perSecond / rapport.loop.perSecond)}  ${f(busy.cpuMsPerDelivery / rapport.cpuMsPerDelivery)}`,
    `  (training row: ${busy.paced.seconds.toFixed(0)} s of paced load; a ${TRAIN_CONTACTS.toLocaleString('en-US')}-contact portal trained and fully rescored: ${trainingPasses.started} pass(es) started, ${trainingPasses.passes} finished, ${trainingPasses.failed} failed or ran on the serving thread;`,
    `   the serving thread's event loop meanwhile: delay p99 ${trainingPasses.loopP99Ms.toFixed(1)} ms, max ${trainingPasses.loopMaxMs.toFixed(1)} ms)`,
    '',
    `capacity of one core at the measured CPU cost: ~${Math.round(1000 / rapport.cpuMsPerDelivery)} deliveries/s (${(rate * rapport.cpuMsPerDelivery / 10).toFixed(0)} % of a core at ${rate}/s)`,
    `machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (latencies are wall-clock and suffer from other load)`,
    `goal: p99 ≤ 20 ms at ${rate} deliveries/s → ${rapport.paced.p99 <= 20 && rapport.paced.errors === 0 ? 'MET' : 'NOT MET'} (p99 ${rapport.paced.p99.toFixed(2)} ms, ${rapport.paced.errors} errors)`,
    `goal: p99 ≤ 20 ms at ${rate} deliveries/s while training and scoring → ${busyMet ? 'MET' : 'NOT MET'} (p99 ${busy.paced.p99.toFixed(2)} ms, ${busy.paced.errors} errors)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  reportFigures('webhooks', [
    { figure: `ack p50 at ${rate} deliveries/s of ${EVENTS_PER_DELIVERY} events (ms)`, value: rapport.paced.p50, goal: '', met: null },
    { figure: `ack p99 at ${rate} deliveries/s (ms)`, value: rapport.paced.p99, goal: '≤ 20', met: rapport.paced.p99 <= 20 && rapport.paced.errors === 0 },
    { figure: `ack p99 at ${rate} deliveries/s while a ${TRAIN_CONTACTS.toLocaleString('en-US')}-contact portal trains and scores (ms)`, value: busy.paced.p99, goal: '≤ 20', met: busyMet },
    { figure: 'p99 while training ÷ idle p99', value: busy.paced.p99 / rapport.paced.p99, goal: '', met: null },
    { figure: 'p99 ÷ bare hono p99', value: rapport.paced.p99 / bare.paced.p99, goal: '', met: null },
    { figure: 'closed-loop throughput (deliveries/s)', value: rapport.loop.perSecond, goal: '', met: null },
    { figure: 'throughput ÷ bare hono', value: rapport.loop.perSecond / bare.loop.perSecond, goal: '', met: null },
  ]);
}

const serveIdx = process.argv.indexOf('--serve');
if (serveIdx >= 0) {
  const kind = process.argv[serveIdx + 1];
  void runServer(kind === 'bare' || kind === 'training' ? kind : 'rapport');
} else {
  await main();
}
