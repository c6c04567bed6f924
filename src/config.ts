import { parseChurnSettings, type ChurnSettings } from './scoring/churn-definition.ts';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

/**
 * The only reader of the environment. Env vars win over `rapport.config.json` (same names,
 * as flat keys), which wins over defaults. Every problem is reported at once, in plain words,
 * and no secret value is ever echoed back.
 */

const SECRET_KEYS = new Set([
  'RAPPORT_ENCRYPTION_KEY',
  'RAPPORT_ENCRYPTION_KEY_PREVIOUS',
  'HUBSPOT_ACCESS_TOKEN',
  'HUBSPOT_CLIENT_SECRET',
  'SALESFORCE_CLIENT_SECRET',
  'RAPPORT_METRICS_TOKEN',
]);

const flag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { message: `${name} must be true or false` })
    .default('false')
    .transform((s) => s === 'true' || s === '1');

const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const url = (what: string) =>
  z.url({ protocol: /^https?$/, message: `${what} must be an absolute http:// or https:// URL` });

const KEY_MESSAGE = 'RAPPORT_ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (try: openssl rand -hex 32)';

function parseKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  return b.length === 32 ? b : undefined;
}

const envSchema = z
  .object({
    RAPPORT_DB: z.string().trim().min(1).default('./data/rapport.db'),
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
    /** accept HubSpot's v1/v2 webhook signatures (no timestamp) when a delivery has no v3 one */
    HUBSPOT_LEGACY_SIGNATURES: flag('HUBSPOT_LEGACY_SIGNATURES'),
    HUBSPOT_BASE_URL: url('HUBSPOT_BASE_URL').default('https://api.hubapi.com'),
    HUBSPOT_ACCESS_TOKEN: optionalText,
    HUBSPOT_CLIENT_ID: optionalText,
    HUBSPOT_CLIENT_SECRET: optionalText,
    HUBSPOT_APP_ID: optionalText,
    /** requests per 10 s: 110 for OAuth apps (per account), 100/190 for private apps by tier */
    HUBSPOT_RATE_LIMIT: z.coerce.number().int().positive().default(110),
    SALESFORCE_LOGIN_URL: url('SALESFORCE_LOGIN_URL').default('https://login.salesforce.com'),
    SALESFORCE_CLIENT_ID: optionalText,
    SALESFORCE_CLIENT_SECRET: optionalText,
    /** the churn definition per portal (src/scoring/churn-definition.ts): JSON text, or an object in the config file */
    RAPPORT_CHURN: z.unknown().optional(),
    SALESFORCE_API_VERSION: z
      .string()
      .regex(/^\d{2,3}\.0$/, 'SALESFORCE_API_VERSION must look like "62.0"')
      .default('62.0'),
  });

type Env = z.infer<typeof envSchema>;

export type Config = {
  dbPath: string;
  port: number;
  publicUrl: string;
  encryptionKey: Buffer | undefined;
  /** RAPPORT_ENCRYPTION_KEY_PREVIOUS: read-only fallback while rotating keys */
  previousEncryptionKey: Buffer | undefined;
  logLevel: Env['RAPPORT_LOG_LEVEL'];
  syncIntervalMs: number;
  httpTimeoutMs: number;
  /** loopback port of the operator listener (preview, report, metrics); undefined = off */
  operatorPort: number | undefined;
  /** opens /metrics on the public listener with `Authorization: Bearer <token>` */
  metricsToken: string | undefined;
  server: { requestTimeoutMs: number; maxConnections: number };
  hubspot: {
    baseUrl: string;
    accessToken: string | undefined;
    clientId: string | undefined;
    clientSecret: string | undefined;
    appId: string | undefined;
    rateLimitPer10s: number;
    /** accept v1/v2 webhook signatures without a v3 one (off: HubSpot signs app requests with v3) */
    legacySignatures: boolean;
  };
  salesforce: {
    loginUrl: string;
    clientId: string | undefined;
    clientSecret: string | undefined;
    apiVersion: string;
  };
  /** per-portal churn definitions (undefined: the documented default for every portal) */
  churn: ChurnSettings | undefined;
};

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

/**
 * Reads and validates the configuration.
 * @param env usually `process.env`
 * @param configFile path of the optional JSON file (default `./rapport.config.json`)
 * @param listen the host `serve` listens on (`--host`), for the default public URL
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  configFile = env['RAPPORT_CONFIG'] ?? './rapport.config.json',
  listen: { host?: string } = {},
): Config {
  const issues: string[] = [];
  const fromFile = readConfigFile(configFile, issues);
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key] ?? fromFile[key];
    if (value !== undefined) merged[key] = typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
  }
  for (const key of Object.keys(fromFile)) {
    if (!(key in envSchema.shape)) issues.push(`${configFile}: unknown setting "${key}"`);
  }
  // cross-field rules, checked even when single fields are invalid so all problems show at once
  const has = (k: string) => typeof merged[k] === 'string' && (merged[k] as string).trim() !== '';
  if (has('HUBSPOT_CLIENT_ID') && !has('HUBSPOT_CLIENT_SECRET')) {
    issues.push('HUBSPOT_CLIENT_SECRET is required when HUBSPOT_CLIENT_ID is set (OAuth app)');
  }
  if (has('SALESFORCE_CLIENT_ID') && !has('SALESFORCE_CLIENT_SECRET')) {
    issues.push('SALESFORCE_CLIENT_SECRET is required when SALESFORCE_CLIENT_ID is set (connected app)');
  }
  // checked before the schema's verdict so its problems are reported with every other one
  let churn: ChurnSettings | undefined;
  if (merged['RAPPORT_CHURN'] !== undefined) {
    const parsed = parseChurnSettings(merged['RAPPORT_CHURN']);
    if (parsed.ok) churn = parsed.value;
    else issues.push(...parsed.errors);
  }
  const result = envSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      // zod's own messages for secrets may include the received value: replace with a neutral
      // one (our custom messages never contain it)
      issues.push(SECRET_KEYS.has(key) && issue.code !== 'custom' ? `${key} is invalid` : issue.message.startsWith(key) ? issue.message : `${key}: ${issue.message}`);
    }
    throw new ConfigError(issues);
  }
  const v = result.data;
  if (v.RAPPORT_ENCRYPTION_KEY_PREVIOUS !== undefined && v.RAPPORT_ENCRYPTION_KEY === undefined) {
    issues.push('RAPPORT_ENCRYPTION_KEY_PREVIOUS is set without RAPPORT_ENCRYPTION_KEY: set the new key too (see docs/operations.md, "Keys and files")');
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    dbPath: v.RAPPORT_DB,
    port: v.RAPPORT_PORT,
    publicUrl: v.RAPPORT_PUBLIC_URL ?? defaultPublicUrl(v.RAPPORT_PORT, listen.host),
    encryptionKey: v.RAPPORT_ENCRYPTION_KEY,
    previousEncryptionKey: v.RAPPORT_ENCRYPTION_KEY_PREVIOUS,
    logLevel: v.RAPPORT_LOG_LEVEL,
    syncIntervalMs: v.RAPPORT_SYNC_INTERVAL_MS,
    httpTimeoutMs: v.RAPPORT_HTTP_TIMEOUT_MS,
    operatorPort: v.RAPPORT_OPERATOR_PORT,
    metricsToken: v.RAPPORT_METRICS_TOKEN,
    server: { requestTimeoutMs: v.RAPPORT_REQUEST_TIMEOUT_MS, maxConnections: v.RAPPORT_MAX_CONNECTIONS },
    hubspot: {
      baseUrl: v.HUBSPOT_BASE_URL.replace(/\/+$/, ''),
      accessToken: v.HUBSPOT_ACCESS_TOKEN,
      clientId: v.HUBSPOT_CLIENT_ID,
      clientSecret: v.HUBSPOT_CLIENT_SECRET,
      appId: v.HUBSPOT_APP_ID,
      rateLimitPer10s: v.HUBSPOT_RATE_LIMIT,
      legacySignatures: v.HUBSPOT_LEGACY_SIGNATURES,
    },
    salesforce: {
      loginUrl: v.SALESFORCE_LOGIN_URL.replace(/\/+$/, ''),
      clientId: v.SALESFORCE_CLIENT_ID,
      clientSecret: v.SALESFORCE_CLIENT_SECRET,
      apiVersion: v.SALESFORCE_API_VERSION,
    },
    churn,
  };
}

/** Names of every setting, for `rapport --help` and the docs. */
export const CONFIG_KEYS = Object.keys(envSchema.shape);
