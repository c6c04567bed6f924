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
  'HUBSPOT_ACCESS_TOKEN',
  'HUBSPOT_CLIENT_SECRET',
  'SALESFORCE_CLIENT_SECRET',
]);

const optionalText = z
  .string()
  .trim()
  .transform((s) => (s === '' ? undefined : s))
  .optional();

const url = (what: string) =>
  z.url({ protocol: /^https?$/, message: `${what} must be an absolute http:// or https:// URL` });

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
    /** 32 bytes, as 64 hex characters or base64 */
    RAPPORT_ENCRYPTION_KEY: optionalText,
    RAPPORT_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
    RAPPORT_SYNC_INTERVAL_MS: z.coerce.number().int().positive().default(60_000),
    /** per-request timeout for CRM calls; a hung request counts as a retryable failure */
    RAPPORT_HTTP_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
    HUBSPOT_BASE_URL: url('HUBSPOT_BASE_URL').default('https://api.hubapi.com'),
    HUBSPOT_ACCESS_TOKEN: optionalText,
    HUBSPOT_CLIENT_ID: optionalText,
    HUBSPOT_CLIENT_SECRET: optionalText,
    HUBSPOT_APP_ID: optionalText,
    /** requests per 10 s: 110 for OAuth apps (per account), 100/190 for private apps by tier */
    HUBSPOT_RATE_LIMIT: z.coerce.number().int().positive().default(110),
    SALESFORCE_LOGIN_URL: url('SALESFORCE_LOGIN_URL').default('https://login.salesforce.com'),
    SALESFORCE_INSTANCE_URL: url('SALESFORCE_INSTANCE_URL').optional(),
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
  logLevel: Env['RAPPORT_LOG_LEVEL'];
  syncIntervalMs: number;
  httpTimeoutMs: number;
  hubspot: {
    baseUrl: string;
    accessToken: string | undefined;
    clientId: string | undefined;
    clientSecret: string | undefined;
    appId: string | undefined;
    rateLimitPer10s: number;
  };
  salesforce: {
    loginUrl: string;
    instanceUrl: string | undefined;
    clientId: string | undefined;
    clientSecret: string | undefined;
    apiVersion: string;
  };
  /** per-portal churn definitions (undefined: the documented default for every portal) */
  churn: ChurnSettings | undefined;
};

function parseKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  const b = Buffer.from(raw, 'base64');
  return b.length === 32 ? b : undefined;
}

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
 * Reads and validates the configuration.
 * @param env usually `process.env`
 * @param configFile path of the optional JSON file (default `./rapport.config.json`)
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  configFile = env['RAPPORT_CONFIG'] ?? './rapport.config.json',
): Config {
  const issues: string[] = [];
  const fromFile = readConfigFile(configFile, issues);
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key] ?? fromFile[key];
    if (value !== undefined) merged[key] = typeof value === 'number' ? String(value) : value;
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
      // zod messages for secrets may include the received value: replace with a neutral one
      issues.push(SECRET_KEYS.has(key) ? `${key} is invalid` : issue.message.startsWith(key) ? issue.message : `${key}: ${issue.message}`);
    }
    throw new ConfigError(issues);
  }
  const v = result.data;
  let encryptionKey: Buffer | undefined;
  if (v.RAPPORT_ENCRYPTION_KEY !== undefined) {
    encryptionKey = parseKey(v.RAPPORT_ENCRYPTION_KEY);
    if (encryptionKey === undefined) {
      issues.push('RAPPORT_ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (try: openssl rand -hex 32)');
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    dbPath: v.RAPPORT_DB,
    port: v.RAPPORT_PORT,
    publicUrl: v.RAPPORT_PUBLIC_URL ?? `http://127.0.0.1:${v.RAPPORT_PORT}`,
    encryptionKey,
    logLevel: v.RAPPORT_LOG_LEVEL,
    syncIntervalMs: v.RAPPORT_SYNC_INTERVAL_MS,
    httpTimeoutMs: v.RAPPORT_HTTP_TIMEOUT_MS,
    hubspot: {
      baseUrl: v.HUBSPOT_BASE_URL.replace(/\/+$/, ''),
      accessToken: v.HUBSPOT_ACCESS_TOKEN,
      clientId: v.HUBSPOT_CLIENT_ID,
      clientSecret: v.HUBSPOT_CLIENT_SECRET,
      appId: v.HUBSPOT_APP_ID,
      rateLimitPer10s: v.HUBSPOT_RATE_LIMIT,
    },
    salesforce: {
      loginUrl: v.SALESFORCE_LOGIN_URL.replace(/\/+$/, ''),
      instanceUrl: v.SALESFORCE_INSTANCE_URL?.replace(/\/+$/, ''),
      clientId: v.SALESFORCE_CLIENT_ID,
      clientSecret: v.SALESFORCE_CLIENT_SECRET,
      apiVersion: v.SALESFORCE_API_VERSION,
    },
    churn,
  };
}

/** Names of every setting, for `rapport --help` and the docs. */
export const CONFIG_KEYS = Object.keys(envSchema.shape);
