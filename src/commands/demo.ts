import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadConfig } from '../config.ts';
import type { ObjectType } from '../connectors/types.ts';
import { EXIT } from '../errors.ts';
import { createLogger, logFileDestination, logFileFor } from '../log.ts';
import { connectStore } from '../store/index.ts';
import { createRapport, type Rapport } from '../main.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { hubspotDemo, salesforceDemo, type DemoCrm } from './demo-crms.ts';
import { createProgressBars } from './progress.ts';
import { metricsLine } from './status.ts';

const USAGE = `Usage: rapport demo [--once] [--contacts N] [--seed S] [--every SECONDS] [--db FILE | --database-url URL] [--port N] [--real-limits] [--crm NAME]

Runs the whole product on the embedded HubSpot sandbox, with no CRM account:
  1. starts the sandbox with a synthetic account (N contacts, deterministic for the seed),
  2. installs Rapport through the sandbox's OAuth flow and provisions the rapport_* properties,
  3. backfills the account into the local cache (progress bars),
  4. trains the churn and service-need models, scores every contact and writes the scores back,
  5. serves the card preview, then keeps the account alive: new calls, emails, tickets and
     survey answers arrive every few seconds, webhooks fire, and a live table shows which
     contacts were rescored and how their scores moved. Ctrl-C stops it cleanly (exit 0).

Options:
  --once          one full cycle (including one live webhook round trip), then print a JSON
                  summary and exit 0
  --contacts N    synthetic contacts (default 5000)
  --seed S        generator seed (default 42)
  --every S       seconds between live events (default 3)
  --db FILE       Rapport's database for the demo (default ./data/demo.db; recreated each run).
                  On a terminal the logs go next to it (./data/demo.log), not between the bars
  --database-url URL
                  run the demo on Postgres (postgres://…) instead of a SQLite file. The database
                  must hold no portal yet: the demo never erases a Postgres database (logs go to
                  ./data/demo.log)
  --port N        Rapport's HTTP port (default: a free port)
  --real-limits   HubSpot's real rate limits (110 requests / 10 s); by default the sandbox allows
                  10× that so the demo finishes in about a minute
  --crm NAME      hubspot (default) or salesforce (an emulated org; its live phase arrives
                  through Change Data Capture instead of webhooks)
  -h, --help      this help
`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

const percentile = (xs: number[], p: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? null;
};

/** A contact to open in the card preview: the first one with scores (the URL needs a real id). */
async function sampleContact(rapport: Rapport, portal: string): Promise<string> {
  let first: string | undefined;
  for (const id of await rapport.store.records.ids(portal, 'contacts')) {
    first ??= id;
    if ((await rapport.store.scores.get(portal, id)) !== undefined) return id;
  }
  return first ?? '1';
}

type LiveEvent = {
  contactId: string;
  label: string;
  /** wall clock of the event, for latency */
  at: number;
  /** CRM clock: a score at or after this includes the event */
  scoredAfter: number;
  before: Record<string, number> | undefined;
  remoteBefore: string | undefined;
  done: boolean;
};

export const command: Command = {
  name: 'demo',
  summary: 'Run the whole product on the embedded sandbox (npm start)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, {
      once: { type: 'boolean', default: false },
      contacts: { type: 'string', default: '5000' },
      seed: { type: 'string', default: '42' },
      every: { type: 'string', default: '3' },
      db: { type: 'string', default: './data/demo.db' },
      'database-url': { type: 'string' },
      port: { type: 'string' },
      'real-limits': { type: 'boolean', default: false },
      crm: { type: 'string', default: 'hubspot' },
      help: { type: 'boolean', short: 'h', default: false },
    }, io);
    if (typeof values === 'number') return values;
    if (values.crm !== 'hubspot' && values.crm !== 'salesforce') {
      io.stderr(`rapport demo: --crm must be hubspot or salesforce, got "${values.crm}"\n`);
      return EXIT.usage;
    }
    const contacts = Number(values.contacts);
    const seed = Number(values.seed);
    const everyMs = Number(values.every) * 1000;
    const databaseUrl = values['database-url'];
    const bad = [
      Number.isInteger(contacts) && contacts > 0 ? null : '--contacts must be a positive whole number',
      Number.isInteger(seed) ? null : '--seed must be a whole number',
      everyMs > 0 ? null : '--every must be a positive number of seconds',
      databaseUrl === undefined || /^postgres(ql)?:\/\/\S+$/.test(databaseUrl) ? null : '--database-url must be a postgres:// or postgresql:// URL',
    ].filter((x) => x !== null);
    if (bad.length > 0) {
      io.stderr(`rapport demo: ${bad.join('; ')}\n`);
      return EXIT.usage;
    }

    if (databaseUrl !== undefined) {
      // a SQLite demo file is the demo's own and recreated; a Postgres database may be someone's
      const probe = await connectStore({ dbPath: '', databaseUrl });
      const held = await probe.portals.list().finally(() => probe.close());
      if (held.length > 0) {
        io.stderr(`rapport demo: the database at --database-url already holds ${held.length} portal(s) (${held.slice(0, 3).map((p) => p.portal).join(', ')}); the demo needs an empty database and never erases one\n`);
        return EXIT.config;
      }
    }

    const t0 = performance.now();
    const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
    // Human narration goes to stderr with --once so stdout carries only the JSON summary. On a
    // terminal it goes through the progress bars, which keep their block below it.
    const out = values.once ? io.stderr : io.stdout;
    const live = io.isTTY && !values.once;
    let crm: DemoCrm | undefined = undefined; // set once the sandbox is up; the bars ask it for names
    const term = createProgressBars(out, live, () => crm?.now() ?? Date.now(), {
      ...(io.columns === undefined ? {} : { columns: io.columns }),
      label: (type) => crm?.objectName(type) ?? type,
    });
    const say = (text: string) => term.print(`${text}\n`);
    const step = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
      const s = performance.now();
      term.print(`▸ ${label}… `);
      const r = await fn();
      term.print(`done in ${((performance.now() - s) / 1000).toFixed(1)}s\n`);
      return r;
    };

    const crmOptions = { seed, contacts, realLimits: values['real-limits'] };
    crm = await step(
      `Starting the ${values.crm === 'salesforce' ? 'Salesforce' : 'HubSpot'} sandbox with a synthetic account of ${contacts.toLocaleString('en')} contacts (seed ${seed})`,
      () => (values.crm === 'salesforce' ? salesforceDemo(crmOptions) : hubspotDemo(crmOptions)),
    );
    say(`  ${crm.label}`);
    const demoCrm = crm;

    if (databaseUrl === undefined) {
      rmSync(values.db, { force: true });
      rmSync(`${values.db}-wal`, { force: true });
      rmSync(`${values.db}-shm`, { force: true });
    }
    const port = values.port === undefined ? await freePort() : Number(values.port);
    // the preview, report and metrics live on their own loopback listener (docs/operations.md "Security")
    const operatorPort = await freePort();
    const config = loadConfig(
      {
        ...(databaseUrl === undefined ? { RAPPORT_DB: values.db } : { RAPPORT_DATABASE_URL: databaseUrl }),
        RAPPORT_PORT: String(port),
        RAPPORT_PUBLIC_URL: `http://127.0.0.1:${port}`,
        RAPPORT_OPERATOR_PORT: String(operatorPort),
        // Ephemeral: the demo database is recreated on every run.
        RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        RAPPORT_LOG_LEVEL: io.env['RAPPORT_LOG_LEVEL'] ?? 'warn',
        RAPPORT_SYNC_INTERVAL_MS: '15000',
        ...demoCrm.env,
      },
      '/nonexistent/rapport.config.json',
    );
    // On a terminal, JSON log lines would tear through the progress bars and the live table:
    // they go to a file next to the demo database, and the narration says where.
    const logFile = logFileFor(databaseUrl === undefined ? values.db : './data/demo.db');
    const logger = createLogger({ level: config.logLevel, ...(live ? { destination: logFileDestination(logFile, { append: false }) } : {}) });
    if (live) say(`  logs (level ${config.logLevel}): ${logFile}`);
    // The bars show the install's backfill (a stream's later passes would overwrite its line
    // with the small read-back of our own writes); in the live phase the table reports each rescore.
    let backfilling = true;
    const backfilled = new Set<string>();
    const rapport = await createRapport({
      config,
      logger,
      changeStreams: true,
      now: () => demoCrm.now(),
      onProgress: (p) => {
        if (!backfilling || backfilled.has(p.type) || io.signal.aborted) return;
        if (p.finishedAt !== undefined) backfilled.add(p.type);
        term.update(p);
      },
    }).catch(async (e: unknown) => {
      // a refused configuration or an unreachable store: the sandbox's servers must not keep the process alive
      term.finish({ redraw: false });
      await demoCrm.close();
      throw e;
    });
    // Ctrl-C: the CLI has just written its notice below the bars; leave them as they are.
    io.signal.addEventListener('abort', () => term.finish({ redraw: false }), { once: true });
    let exitCode: number = EXIT.ok;
    try {
      const { url, operatorUrl = url } = await rapport.listen(port);
      const portal = await step(
        values.crm === 'salesforce'
          ? 'Connecting to the org, backfilling, training, scoring and writing back'
          : 'Installing Rapport through the sandbox OAuth flow, provisioning, backfilling, training, scoring and writing back',
        async () => {
          const p = await demoCrm.install(rapport, url, io.signal);
          term.finish();
          backfilling = false;
          return p;
        },
      );
      say(`  portal ${portal} connected${values.crm === 'hubspot' ? `; OAuth tokens stored encrypted in ${databaseUrl === undefined ? values.db : 'the Postgres database'}` : ''}`);
      const counts = await rapport.store.records.counts(portal);
      say(`  cache: ${Object.entries(counts).map(([t, c]) => `${c.live} ${demoCrm.objectName(t as ObjectType)}`).join(', ')}`);

      // The first pass trained the portal's models (time split on its own history), scored every
      // contact and wrote the scores back.
      const churn = await rapport.store.models.latest(portal, 'churn');
      const service = await rapport.store.models.latest(portal, 'service_need');
      const fmt = (m: typeof churn) => (m === undefined ? 'not trained (cold-start model in use)' : `${m.version}: ${metricsLine(m.metrics)}`);
      say(`  churn model ${fmt(churn)}`);
      say(`  service-need model ${fmt(service)}`);
      say(`  ${await rapport.store.scores.count(portal)} contacts scored, ${await rapport.store.outbox.writtenCount(portal)} written back to the sandbox`);
      if (values.once) {
        // the server stops when --once ends: its URLs would lead nowhere
        say('  (--once: the server stops at the end; run without --once to open the card preview and the report)');
      } else {
        say(`  card preview: ${operatorUrl}/preview/contacts/${encodeURIComponent(await sampleContact(rapport, portal))}?portal=${portal}`);
        say(`  report: ${operatorUrl}/report?portal=${portal}   metrics: ${operatorUrl}/metrics`);
      }
      const liveAt = (performance.now() - t0) / 1000;
      say(`▸ Live (reached in ${secs()}s): new activity every ${values.every}s; ${demoCrm.liveMechanism}${values.once ? '' : '. Ctrl-C to stop.'}`);

      // ---- live phase
      const events: LiveEvent[] = [];
      const latencies: number[] = [];
      let rescored = 0;
      const scoreOf = async (id: string) => {
        const s = await rapport.store.scores.get(portal, id);
        return s === undefined
          ? undefined
          : { satisfaction: s.satisfaction.value, loyalty: s.loyalty.value, churnRisk: s.churnRisk.value, serviceNeed: s.serviceNeed.value };
      };
      // Salesforce record ids are 18 characters and its object names longer: a wider event column
      const eventWidth = values.crm === 'salesforce' ? 37 : 24;
      say(`  time      contact              ${'event'.padEnd(eventWidth)}  satisfaction  loyalty  churn  service  health   latency`);
      const check = async () => {
        for (const e of events) {
          if (e.done) continue;
          const s = await rapport.store.scores.get(portal, e.contactId);
          if (s === undefined || s.scoredAt < e.scoredAfter) continue;
          if ((await rapport.store.outbox.due(portal, 1_000_000)).some((i) => i.contactId === e.contactId)) continue;
          e.done = true;
          rescored++;
          const ms = Date.now() - e.at;
          // latency counts only when the new values reached the CRM
          if (demoCrm.scoredAtOf(e.contactId) !== e.remoteBefore) latencies.push(ms);
          const d = (k: 'satisfaction' | 'loyalty' | 'churnRisk' | 'serviceNeed') => {
            const b = e.before?.[k];
            const a = s[k].value;
            return b === undefined || Math.round(b) === Math.round(a) ? `${Math.round(a)}` : `${Math.round(b)}→${Math.round(a)}`;
          };
          say(
            `  ${new Date().toISOString().slice(11, 19)}  ${e.contactId.padEnd(19)}  ${e.label.padEnd(eventWidth)}  ${d('satisfaction').padStart(12)}  ${d('loyalty').padStart(7)}  ${d('churnRisk').padStart(5)}  ${d('serviceNeed').padStart(7)}  ${s.health.padEnd(7)}  ${(ms / 1000).toFixed(2)}s`,
          );
        }
      };
      const rounds = values.once ? 1 : Infinity;
      for (let round = 0; round < rounds && !io.signal.aborted; round++) {
        const at = Date.now();
        const scoredAfter = demoCrm.now();
        for (const a of demoCrm.addActivity(demoCrm.now())) {
          events.push({ ...a, at, scoredAfter, before: await scoreOf(a.contactId), remoteBefore: demoCrm.scoredAtOf(a.contactId), done: false });
        }
        for (let waited = 0; !io.signal.aborted; waited += 100) {
          if (values.once ? events.every((e) => e.done) || waited > 30_000 : waited >= everyMs) break;
          await demoCrm.pump(rapport, portal);
          await sleep(100, io.signal);
          await check();
        }
      }

      if (values.once) {
        const inSandbox = demoCrm.contactCount();
        const writtenBack = demoCrm.writtenBackCount();
        const summary = {
          crm: values.crm,
          portal,
          seed,
          contacts: {
            inSandbox,
            synced: (await rapport.store.records.counts(portal))['contacts']?.live ?? 0,
            scored: await rapport.store.scores.count(portal),
            writtenBack,
          },
          records: await rapport.store.records.counts(portal),
          live: {
            events: events.length,
            rescored,
            writeBackLatencyMs: { p50: percentile(latencies, 50), max: percentile(latencies, 100) },
          },
          models: {
            churn: churn === undefined ? null : { version: churn.version, metrics: churn.metrics },
            serviceNeed: service === undefined ? null : { version: service.version, metrics: service.metrics },
          },
          // the CRM's change notification subscription (Salesforce CDC), when the live phase ran through one
          changeNotifications: rapport.changeStream(portal)?.status() ?? null,
          secondsToLive: Number(liveAt.toFixed(1)),
          secondsTotal: Number(secs()),
          sandbox: demoCrm.stats(),
        };
        io.stdout(JSON.stringify(summary, null, 2) + '\n');
        if (rescored === 0 || writtenBack < inSandbox) exitCode = EXIT.failure;
      }
    } catch (e) {
      term.finish();
      io.stderr(`\nrapport demo: ${(e as Error).message}\n`);
      exitCode = EXIT.failure;
    } finally {
      await rapport.close();
      await demoCrm.close();
    }
    return exitCode;
  },
};
