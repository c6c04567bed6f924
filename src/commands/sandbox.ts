import { EXIT } from '../errors.ts';
import { createTruthWriter, generateAccount } from '../sandbox/generator/index.ts';
import { createClock } from '../sandbox/hubspot/clock.ts';
import { DEFAULT_SEARCH_LAG_MS, startHubspotSandbox, type HubspotSandboxOptions } from '../sandbox/hubspot/index.ts';
import { TIERS, type Tier } from '../sandbox/hubspot/limits.ts';
import type { FaultRates, SandboxLimits } from '../sandbox/hubspot/types.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';

const TIER_NAMES = Object.keys(TIERS) as Tier[];

const USAGE = `Usage: rapport sandbox [options]

Runs a local HubSpot (the Rapport sandbox) holding one synthetic account, prints its base URL,
hub id and private-app access token, and serves until stopped (Ctrl-C / SIGTERM). Point
HUBSPOT_BASE_URL and HUBSPOT_ACCESS_TOKEN at what it prints.

Options:
  --port P               port to listen on (default 0: any free port)
  --host H               interface to listen on (default 127.0.0.1)
  --contacts N           contacts in the synthetic account (default 1000; 0 = empty account)
  --seed S               seed of the generator and of fault injection (default 1)
  --token T              private-app token the account accepts (default: a generated one)
  --hub-id ID            the account's hub id (default 12345678)
  --faults SPEC          injected faults per request, e.g. 429=0.1,500=0.05,timeout=0.01,malformed=0.01
  --limits L             rate limits: "off", or PER10S,SEARCHPERSECOND (default 110,5)
  --tier T               the account's tier: starter|pro|enterprise|oauth (private-app tokens get
                         100 or 190 / 10 s and a daily limit with X-HubSpot-RateLimit-Daily headers;
                         OAuth tokens 110 / 10 s; default: --limits for every token, no daily limit)
  --search-lag MS        how far the search index trails writes, up to MS per record (default 3000)
  --truth FILE           write each customer's latent truth to FILE (JSON lines; never served)
  --now ISO              the account's present (default: the current time)
  --db FILE              the sandbox's own SQLite file (default: in memory)
  --admin-token T        token of the /_sandbox admin API (default: a generated one)
  --client-id ID         register an OAuth app with this client id (with --client-secret, --app-id)
  --client-secret S      the OAuth app's client secret (also signs webhooks)
  --app-id N             the OAuth app's id (default 1)
  --webhook-url URL      deliver signed webhooks for every change to URL (needs --client-secret)
  --json                 print the startup details as one JSON line
  -h, --help             this help

OAuth (with --client-id/--client-secret): GET /oauth/authorize approves at once, as a logged-in
admin would, and redirects with a code. It installs into the account named by the sandbox-only
hub_id parameter (or /oauth/{hubId}/authorize), else the first account the app is not installed
in, else a new account. Tokens: POST /oauth/v1/token; access tokens last 1800 s of sandbox time.

Admin API (for scripts and the demo; header "Authorization: Bearer <admin token>"):
  GET|POST /_sandbox/portals, POST /_sandbox/portals/{hubId}/revoke|expire-tokens,
  POST /_sandbox/apps, POST /_sandbox/{hubId}/objects/{type}, GET|PATCH|DELETE …/{id},
  PUT|DELETE /_sandbox/{hubId}/associations/{fromType}/{fromId}/{toType}/{toId},
  GET /_sandbox/{hubId}/counts, GET|POST /_sandbox/clock {advanceMs}, POST /_sandbox/faults,
  POST /_sandbox/limits, GET /_sandbox/stats, POST /_sandbox/webhooks, POST /_sandbox/webhooks/flush,
  POST /_sandbox/webhooks/modes
`;

const FAULT_KINDS = ['429', '500', 'timeout', 'malformed'] as const;

/** `429=0.1,500=0.05` → rates; every problem named (the CLI is a boundary). */
export function parseFaults(spec: string): FaultRates | string {
  const rates: FaultRates = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [kind, raw, extra] = part.split('=');
    if (kind === undefined || raw === undefined || extra !== undefined) return `--faults: "${part}" is not KIND=PROBABILITY`;
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) return `--faults: unknown fault "${kind}" (known: ${FAULT_KINDS.join(', ')})`;
    const p = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) return `--faults: ${kind} needs a probability between 0 and 1, got "${raw}"`;
    rates[kind as (typeof FAULT_KINDS)[number]] = p;
  }
  return rates;
}

export function parseLimits(spec: string): SandboxLimits | false | string {
  if (spec === 'off') return false;
  const m = /^(\d+),(\d+)$/.exec(spec.trim());
  const per10s = Number(m?.[1]);
  const searchPerSecond = Number(m?.[2]);
  if (m === null || per10s < 1 || searchPerSecond < 1) return `--limits: expected "off" or PER10S,SEARCHPERSECOND (e.g. 110,5), got "${spec}"`;
  return { per10s, searchPerSecond };
}

function parseWhole(name: string, raw: string | undefined, fallback: number, min: number, max: number): number | string {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) return `--${name}: expected a whole number from ${min} to ${max}, got "${raw}"`;
  return n;
}

export const command: Command = {
  name: 'sandbox',
  summary: 'Run a local HubSpot with a synthetic account (no CRM account needed)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, {
      port: { type: 'string' },
      host: { type: 'string' },
      contacts: { type: 'string' },
      seed: { type: 'string' },
      token: { type: 'string' },
      'hub-id': { type: 'string' },
      faults: { type: 'string' },
      limits: { type: 'string' },
      tier: { type: 'string' },
      'search-lag': { type: 'string' },
      truth: { type: 'string' },
      now: { type: 'string' },
      db: { type: 'string' },
      'admin-token': { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'app-id': { type: 'string' },
      'webhook-url': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    }, io);
    if (typeof values === 'number') return values;

    const problems: string[] = [];
    const take = <T>(v: T | string): T | undefined => {
      if (typeof v === 'string') {
        problems.push(v);
        return undefined;
      }
      return v;
    };
    const port = take(parseWhole('port', values.port, 0, 0, 65_535));
    const contacts = take(parseWhole('contacts', values.contacts, 1000, 0, 10_000_000));
    const seed = take(parseWhole('seed', values.seed, 1, 0, 2 ** 32 - 1));
    const hubId = take(parseWhole('hub-id', values['hub-id'], 12_345_678, 1, Number.MAX_SAFE_INTEGER));
    const appId = take(parseWhole('app-id', values['app-id'], 1, 1, Number.MAX_SAFE_INTEGER));
    const faults = values.faults === undefined ? {} : take(parseFaults(values.faults));
    const limits = values.limits === undefined ? undefined : take(parseLimits(values.limits));
    const searchLagMs = take(parseWhole('search-lag', values['search-lag'], DEFAULT_SEARCH_LAG_MS, 0, 3_600_000));
    const tier = values.tier;
    if (tier !== undefined && !TIER_NAMES.includes(tier as Tier)) problems.push(`--tier: one of ${TIER_NAMES.join(', ')}, got "${tier}"`);
    let now = Date.now();
    if (values.now !== undefined) {
      now = Date.parse(values.now);
      if (!Number.isFinite(now)) problems.push(`--now: not a date/time: "${values.now}"`);
    }
    if (values.token !== undefined && !/^\S{8,512}$/.test(values.token)) problems.push('--token: 8 to 512 characters without spaces');
    if (values['admin-token'] !== undefined && values['admin-token'].length < 8) problems.push('--admin-token: at least 8 characters');
    if ((values['client-id'] === undefined) !== (values['client-secret'] === undefined) && values['webhook-url'] === undefined) {
      problems.push('--client-id and --client-secret go together');
    }
    if (values['webhook-url'] !== undefined) {
      if (values['client-secret'] === undefined) problems.push('--webhook-url needs --client-secret (it signs the deliveries)');
      if (!/^https?:\/\/\S+$/.test(values['webhook-url'])) problems.push(`--webhook-url: not an http(s) URL: "${values['webhook-url']}"`);
    }
    if (problems.length > 0 || searchLagMs === undefined || port === undefined || contacts === undefined || seed === undefined || hubId === undefined || appId === undefined || faults === undefined) {
      return usageError(io, problems.join('\n  '));
    }

    const clock = createClock();
    clock.set(now);
    const opts: HubspotSandboxOptions & { port: number; host: string } = {
      port,
      host: values.host ?? '127.0.0.1',
      clock,
      seed,
      faults,
      ...(limits === undefined ? {} : { limits }),
      searchLagMs,
      ...(tier === undefined ? {} : { tier: tier as Tier }),
      ...(values.db === undefined ? {} : { dbPath: values.db }),
      ...(values['admin-token'] === undefined ? {} : { adminToken: values['admin-token'] }),
      ...(values['client-id'] !== undefined && values['client-secret'] !== undefined
        ? { oauth: { clientId: values['client-id'], clientSecret: values['client-secret'], appId } }
        : {}),
    };
    const started = await startHubspotSandbox(opts);
    const { sandbox, baseUrl } = started;
    try {
      const portal = sandbox.portals.create({ hubId, ...(values.token === undefined ? {} : { privateAppToken: values.token }) });
      const truth = values.truth === undefined ? undefined : createTruthWriter(values.truth);
      let truthLines = 0;
      try {
        for (const batch of generateAccount({ seed, contacts, now })) {
          if (io.signal.aborted) break;
          sandbox.data.load(portal.hubId, batch);
          truth?.write(batch.truth);
        }
      } finally {
        truthLines = truth?.close() ?? 0;
      }
      if (values['webhook-url'] !== undefined && values['client-secret'] !== undefined) {
        sandbox.webhooks.subscribe({ targetUrl: values['webhook-url'], clientSecret: values['client-secret'], appId });
      }

      const info = {
        baseUrl,
        hubId: portal.hubId,
        accessToken: portal.token,
        adminToken: sandbox.adminToken,
        contacts: sandbox.data.count(portal.hubId, 'contacts'),
        companies: sandbox.data.count(portal.hubId, 'companies'),
        deals: sandbox.data.count(portal.hubId, 'deals'),
        tickets: sandbox.data.count(portal.hubId, 'tickets'),
        ...(values.truth === undefined ? {} : { truthFile: values.truth, truthLines }),
        ...(values['webhook-url'] === undefined ? {} : { webhookUrl: values['webhook-url'] }),
      };
      if (values.json === true) io.stdout(`${JSON.stringify(info)}\n`);
      else {
        io.stdout(
          [
            `HubSpot sandbox listening on ${baseUrl}`,
            `  hub id        ${info.hubId}`,
            `  access token  ${info.accessToken}   (private app; Authorization: Bearer …)`,
            `  admin token   ${info.adminToken}   (for ${baseUrl}/_sandbox/…)`,
            `  account       ${info.contacts} contacts, ${info.companies} companies, ${info.deals} deals, ${info.tickets} tickets (seed ${seed})`,
            ...(values.truth === undefined ? [] : [`  truth         ${truthLines} customers → ${values.truth}`]),
            ...(values['webhook-url'] === undefined ? [] : [`  webhooks      → ${values['webhook-url']}`]),
            `  try: HUBSPOT_BASE_URL=${baseUrl} HUBSPOT_ACCESS_TOKEN=${info.accessToken} rapport sync`,
            'Press Ctrl-C to stop.',
            '',
          ].join('\n'),
        );
      }
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        else io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return EXIT.ok;
    } finally {
      await started.close();
      if (values.json !== true) io.stderr('HubSpot sandbox stopped.\n');
    }
  },
};

function usageError(io: CliIo, message: string): number {
  io.stderr(`rapport sandbox: ${message}\nRun \`rapport sandbox --help\` for the options.\n`);
  return EXIT.usage;
}
