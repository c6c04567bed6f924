import { parseChurnSettings, type ChurnSettings } from './scoring/churn-definition.ts';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { CrmProvider } from './connectors/provider.ts';
import { defaultRegistry, type HubspotSettings, type Registry, type SalesforceSettings } from './connectors/registry.ts';
import { ConfigError } from './errors.ts';
import { optionalText, url } from './settings.ts';

/**
 * The only reader of the environment. Env vars win over `rapport.config.json` (same names,
 * as flat keys), which wins over defaults. Every problem is reported at once, in plain words,
 * and no secret value is ever echoed back.
 */

/** Rapport's own secrets; each CRM provider names its own (`config.secretKeys`). */
const SECRET_KEYS = ['RAPPORT_ENCRYPTION_KEY', 'RAPPORT_ENCRYPTION_KEY_PREVIOUS', 'RAPPORT_METRICS_TOKEN', 'RAPPORT_DATABASE_URL'];

const KEY_MESSAGE = 'RAPPORT_ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (try: openssl rand -hex 32)';

function parseKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  return b.length === 32 ? b : undefined;
}

const envSchema = z
  .object({
    RAPPORT_DB: z.string().trim().min(1).default('./data/rapport.db'),
    /**
     * postgres://user:password@host:port/db: the store on PostgreSQL instead of the SQLite file at
     * RAPPORT_DB (docs/operations.md, "Postgres"). A secret (it holds the password): never echoed.
     */
    RAPPORT_DATABASE_URL: optionalText.refine((raw) => raw === undefined || /^postgres(ql)?:\/\/[^\s]+$/.test(raw), {
      message: 'RAPPORT_DATABASE_URL must be a postgres:// or postgresql:// URL (e.g. postgres://rapport:PASSWORD@localhost:5432/rapport)',
    }),
    RAPPORT_PORT: z.coerce
      .number({ message: 'RAPPORT_PORT must be a number' })
      .int('RAPPORT_PORT must be a whole number')
      .min(0, 'RAPPORT_PORT must be between 0 and 65535')
      .max(65535, 'RAPPORT_PORT must be between 0 and 65535')
      .default(3000),
    RAPPORT_PUBLIC_URL: url('RAPPORT_PUBLIC_URL').optional(),
    /** 32 bytes, as 64 hex characters or base64; checked inside the schema so a bad key is reported with every other problem */
    RAPPORT_ENCRYPTION_KEY: optionalText.transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const key = parseKey(raw);
      if (key === undefined) ctx.addIssue({ code: 'custom', message: KEY_MESSAGE });
      return key;
    }),
    /** the key being rotated away from: still accepted for reading until `rapport keys rotate` ran */
    RAPPORT_ENCRYPTION_KEY_PREVIOUS: optionalText.transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const key = parseKey(raw);
      if (key === undefined) ctx.addIssue({ code: 'custom', message: 'RAPPORT_ENCRYPTION_KEY_PREVIOUS must be 32 bytes, as 64 hex characters or base64' });
      return key;
    }),
    RAPPORT_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
    RAPPORT_SYNC_INTERVAL_MS: z.coerce.number().int().positive().default(60_000),
    /** job queue (`rapport worker`): a pass whose worker sent no heartbeat for this long goes to another worker (pg-boss minimum 10) */
    RAPPORT_JOB_HEARTBEAT_SECONDS: z.coerce.number().int().min(10, 'RAPPORT_JOB_HEARTBEAT_SECONDS must be at least 10').max(3600).default(30),
    /** per-request timeout for CRM calls; a hung request counts as a retryable failure */
    RAPPORT_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
    /**
     * Loopback port of the operator listener (card preview, report, /metrics); unset = those
     * routes are off. Never exposed through the public listener (docs/operations.md "Security").
     */
    RAPPORT_OPERATOR_PORT: z.coerce
      .number({ message: 'RAPPORT_OPERATOR_PORT must be a number' })
      .int('RAPPORT_OPERATOR_PORT must be a whole number')
      .min(0, 'RAPPORT_OPERATOR_PORT must be between 0 and 65535')
      .max(65535, 'RAPPORT_OPERATOR_PORT must be between 0 and 65535')
      .optional(),
    /** bearer token that opens GET /metrics on the public listener too (remote Prometheus) */
    RAPPORT_METRICS_TOKEN: z.string().trim().min(24, 'RAPPORT_METRICS_TOKEN must be at least 24 characters (try: openssl rand -hex 24)').optional(),
    /** whole-request deadline on the HTTP server (slow uploads are cut off); headers get min(10 s, this) */
    RAPPORT_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    /** open connections the HTTP server accepts at once; more are closed on accept */
    RAPPORT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100_000).default(512),
    /** the churn definition per portal (src/scoring/churn-definition.ts): JSON text, or an object in the config file */
    RAPPORT_CHURN: z.unknown().optional(),
  });

type Env = z.infer<typeof envSchema>;

/** Rapport's own settings. */
export type CoreConfig = {
  dbPath: string;
  /** RAPPORT_DATABASE_URL: when set, the store is on Postgres and `dbPath` is not used */
  databaseUrl: string | undefined;
  port: number;
  publicUrl: string;
  encryptionKey: Buffer | undefined;
  /** RAPPORT_ENCRYPTION_KEY_PREVIOUS: read-only fallback while rotating keys */
  previousEncryptionKey: Buffer | undefined;
  logLevel: Env['RAPPORT_LOG_LEVEL'];
  syncIntervalMs: number;
  /** RAPPORT_JOB_HEARTBEAT_SECONDS (src/work/queue.ts) */
  jobHeartbeatSeconds: number;
  httpTimeoutMs: number;
  /** loopback port of the operator listener (preview, report, metrics); undefined = off */
  operatorPort: number | undefined;
  /** opens /metrics on the public listener with `Authorization: Bearer <token>` */
  metricsToken: string | undefined;
  server: { requestTimeoutMs: number; maxConnections: number };
  /** per-portal churn definitions (undefined: the documented default for every portal) */
  churn: ChurnSettings | undefined;
};

/** Rapport's settings and, under each provider's name, its CRM's settings slice (see `providerSettings`). */
export type Config = CoreConfig & { hubspot: HubspotSettings; salesforce: SalesforceSettings };

function readConfigFile(path: string, issues: string[]): Record<string, unknown> {
  if (!existsSync(path)) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      issues.push(`${path} must contain a JSON object of setting names to values`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (e) {
    issues.push(`${path} is not valid JSON (${(e as Error).message})`);
    return {};
  }
}

/**
 * The public URL when RAPPORT_PUBLIC_URL is not set: the address `rapport serve` listens on. A
 * wildcard listen address (0.0.0.0, ::) names no reachable host, so loopback stands in for it.
 */
export function defaultPublicUrl(port: number, host = '127.0.0.1'): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Reports zod issues by key, never echoing a secret's value. */
function describeIssues(error: z.ZodError, secret: (key: string) => boolean): string[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    // zod's own messages for secrets may include the received value: replace with a neutral
    // one (our custom messages never contain it)
    return secret(key) && issue.code !== 'custom' ? `${key} is invalid` : issue.message.startsWith(key) ? issue.message : `${key}: ${issue.message}`;
  });
}

/**
 * Reads and validates the configuration: Rapport's own keys here, each CRM's keys by its
 * provider's config slice (src/connectors/<crm>/provider.ts).
 * @param env usually `process.env`
 * @param configFile path of the optional JSON file (default `./rapport.config.json`)
 * @param listen the host `serve` listens on (`--host`), for the default public URL
 * @param providers the CRMs whose slices to read (default: every CRM of the product)
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  configFile = env['RAPPORT_CONFIG'] ?? './rapport.config.json',
  listen: { host?: string } = {},
  providers: Registry = defaultRegistry,
): Config {
  const issues: string[] = [];
  const fromFile = readConfigFile(configFile, issues);
  const known = new Set([...Object.keys(envSchema.shape), ...providers.list().flatMap((p) => p.config.keys)]);
  const secrets = new Set([...SECRET_KEYS, ...providers.list().flatMap((p) => p.config.secretKeys)]);
  const merged: Record<string, unknown> = {};
  for (const key of known) {
    const value = env[key] ?? fromFile[key];
    if (value !== undefined) merged[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  }
  for (const key of Object.keys(fromFile)) {
    if (!known.has(key)) issues.push(`${configFile}: unknown setting "${key}"`);
  }
  // cross-field rules, checked even when single fields are invalid so all problems show at once
  const has = (k: string) => typeof merged[k] === 'string' && (merged[k] as string).trim() !== '';
  for (const p of providers.list()) issues.push(...(p.config.check?.(has) ?? []));
  // checked before the schema's verdict so its problems are reported with every other one
  let churn: ChurnSettings | undefined;
  if (merged['RAPPORT_CHURN'] !== undefined) {
    const parsed = parseChurnSettings(merged['RAPPORT_CHURN']);
    if (parsed.ok) churn = parsed.value;
    else issues.push(...parsed.errors);
  }
  const slices: Record<string, unknown> = {};
  let invalid = false;
  for (const p of providers.list()) {
    const r = p.config.schema.safeParse(merged);
    if (r.success) slices[p.name] = r.data;
    else {
      invalid = true;
      issues.push(...describeIssues(r.error, (k) => secrets.has(k)));
    }
  }
  const result = envSchema.safeParse(merged);
  if (!result.success || invalid) {
    if (!result.success) issues.push(...describeIssues(result.error, (k) => secrets.has(k)));
    throw new ConfigError(issues);
  }
  const v = result.data;
  if (v.RAPPORT_ENCRYPTION_KEY_PREVIOUS !== undefined && v.RAPPORT_ENCRYPTION_KEY === undefined) {
    issues.push('RAPPORT_ENCRYPTION_KEY_PREVIOUS is set without RAPPORT_ENCRYPTION_KEY: set the new key too (see docs/operations.md, "Keys and files")');
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const core: CoreConfig = {
    dbPath: v.RAPPORT_DB,
    databaseUrl: v.RAPPORT_DATABASE_URL,
    port: v.RAPPORT_PORT,
    publicUrl: v.RAPPORT_PUBLIC_URL ?? defaultPublicUrl(v.RAPPORT_PORT, listen.host),
    encryptionKey: v.RAPPORT_ENCRYPTION_KEY,
    previousEncryptionKey: v.RAPPORT_ENCRYPTION_KEY_PREVIOUS,
    logLevel: v.RAPPORT_LOG_LEVEL,
    syncIntervalMs: v.RAPPORT_SYNC_INTERVAL_MS,
    jobHeartbeatSeconds: v.RAPPORT_JOB_HEARTBEAT_SECONDS,
    httpTimeoutMs: v.RAPPORT_HTTP_TIMEOUT_MS,
    operatorPort: v.RAPPORT_OPERATOR_PORT,
    metricsToken: v.RAPPORT_METRICS_TOKEN,
    server: { requestTimeoutMs: v.RAPPORT_REQUEST_TIMEOUT_MS, maxConnections: v.RAPPORT_MAX_CONNECTIONS },
    churn,
  };
  // every provider's slice sits under its name; the default CRMs' are typed (Config)
  return { ...slices, ...core } as Config;
}

/**
 * A provider's settings slice, as loadConfig parsed it with that provider's schema. A provider
 * the configuration was not loaded with has none: a wiring mistake, reported as such.
 */
export function providerSettings(config: Config, provider: CrmProvider): unknown {
  const slices = config as unknown as Readonly<Record<string, unknown>>;
  if (!(provider.name in slices)) throw new Error(`the configuration was loaded without the "${provider.name}" provider: pass its registry to loadConfig`);
  return slices[provider.name];
}

/** Names of every setting, for `rapport --help` and the docs. */
export const CONFIG_KEYS = [...Object.keys(envSchema.shape), ...defaultRegistry.list().flatMap((p) => p.config.keys)];
