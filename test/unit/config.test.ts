import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { configuredLocation } from '../../src/store/index.ts';
import { rapportInProcess } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

const NO_FILE = '/nonexistent/rapport.config.json';
let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.cleanup());

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig({}, NO_FILE);
    expect(c.dbPath).toBe('./data/rapport.db');
    expect(c.hubspot.baseUrl).toBe('https://api.hubapi.com');
    expect(c.hubspot.rateLimitPer10s).toBe(110);
    expect(c.salesforce.apiVersion).toBe('62.0');
    expect(c.encryptionKey).toBeUndefined();
  });

  it('parses a hex encryption key and strips trailing slashes from URLs', () => {
    const key = 'ab'.repeat(32);
    const c = loadConfig({ RAPPORT_ENCRYPTION_KEY: key, HUBSPOT_BASE_URL: 'http://127.0.0.1:9/' }, NO_FILE);
    expect(c.encryptionKey?.toString('hex')).toBe(key);
    expect(c.hubspot.baseUrl).toBe('http://127.0.0.1:9');
  });

  it('reports every problem at once, in plain words', () => {
    const e = errorOf(() =>
      loadConfig({ RAPPORT_PORT: 'eighty', HUBSPOT_BASE_URL: 'not a url', SALESFORCE_API_VERSION: 'latest', HUBSPOT_CLIENT_ID: 'x' }, NO_FILE),
    );
    expect(e.issues.length).toBeGreaterThanOrEqual(4);
    expect(e.message).toMatch(/RAPPORT_PORT/);
    expect(e.message).toMatch(/HUBSPOT_BASE_URL/);
    expect(e.message).toMatch(/SALESFORCE_API_VERSION must look like "62.0"/);
    expect(e.message).toMatch(/HUBSPOT_CLIENT_SECRET is required/);
  });

  it('never echoes a secret value in its errors', () => {
    const secret = 'super-secret-value-123';
    const e = errorOf(() => loadConfig({ RAPPORT_ENCRYPTION_KEY: secret, RAPPORT_PORT: 'x' }, NO_FILE));
    expect(e.message).toMatch(/RAPPORT_ENCRYPTION_KEY must be 32 bytes|RAPPORT_ENCRYPTION_KEY is invalid|RAPPORT_PORT/);
    expect(e.message).not.toContain(secret);
    const e2 = errorOf(() => loadConfig({ RAPPORT_ENCRYPTION_KEY: secret }, NO_FILE));
    expect(e2.message).toMatch(/RAPPORT_ENCRYPTION_KEY must be 32 bytes/);
    expect(e2.message).not.toContain(secret);
  });

  it('reads rapport.config.json, with the environment taking precedence', () => {
    dir = tempDir();
    const file = join(dir.path, 'rapport.config.json');
    writeFileSync(file, JSON.stringify({ RAPPORT_PORT: 4000, RAPPORT_DB: '/tmp/x.db' }));
    const c = loadConfig({ RAPPORT_PORT: '5000' }, file);
    expect(c.port).toBe(5000);
    expect(c.dbPath).toBe('/tmp/x.db');
  });

  it('rejects unknown keys and invalid JSON in the config file', () => {
    dir = tempDir();
    const file = join(dir.path, 'rapport.config.json');
    writeFileSync(file, JSON.stringify({ RAPORT_PORT: 1 }));
    expect(errorOf(() => loadConfig({}, file)).message).toMatch(/unknown setting "RAPORT_PORT"/);
    writeFileSync(file, '{ nope');
    expect(errorOf(() => loadConfig({}, file)).message).toMatch(/is not valid JSON/);
  });

  it('reads the churn definition per portal from the config file or RAPPORT_CHURN, and reports bad ones with the rest', () => {
    expect(loadConfig({}, NO_FILE).churn).toBeUndefined();
    dir = tempDir('rapport-config-');
    const file = join(dir.path, 'rapport.config.json');
    writeFileSync(file, JSON.stringify({ RAPPORT_CHURN: { confirmDays: 180, portals: { 'hubspot:1': { signals: { lostDealStages: ['renewal_lost'] } } } } }));
    expect(loadConfig({}, file).churn).toEqual({ confirmDays: 180, portals: { 'hubspot:1': { signals: { lostDealStages: ['renewal_lost'] } } } });
    expect(loadConfig({ RAPPORT_CHURN: '{"horizonDays": 60}' }, NO_FILE).churn).toEqual({ horizonDays: 60 });
    const e = errorOf(() => loadConfig({ RAPPORT_CHURN: '{"horizonDays": -5}', RAPPORT_PORT: 'x' }, NO_FILE));
    expect(e.message).toMatch(/RAPPORT_CHURN\.horizonDays/);
    expect(e.message).toMatch(/RAPPORT_PORT/);
  });
});

describe('the store setting', () => {
  it('RAPPORT_DATABASE_URL selects Postgres; without it RAPPORT_DB keeps SQLite', () => {
    expect(configuredLocation(loadConfig({ RAPPORT_DB: '/tmp/x.db' }, NO_FILE))).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    const url = 'postgres://rapport:s3cret@db.internal:5432/rapport';
    const c = loadConfig({ RAPPORT_DB: '/tmp/x.db', RAPPORT_DATABASE_URL: url }, NO_FILE);
    expect(c.databaseUrl).toBe(url);
    expect(configuredLocation(c)).toEqual({ kind: 'postgres', url });
    expect(loadConfig({ RAPPORT_DATABASE_URL: '  ' }, NO_FILE).databaseUrl).toBeUndefined();
  });

  it('refuses a URL that is not postgres://, without echoing it (it holds the password)', () => {
    const e = errorOf(() => loadConfig({ RAPPORT_DATABASE_URL: 'mysql://rapport:hunter2@db/rapport' }, NO_FILE));
    expect(e.message).toMatch(/RAPPORT_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(e.message).not.toContain('hunter2');
  });
});

describe('loadConfig: all problems at once', () => {
  it('RAPPORT_PORT=abc with a short RAPPORT_ENCRYPTION_KEY names both (the key used to be checked only after the rest passed)', () => {
    const e = errorOf(() => loadConfig({ RAPPORT_PORT: 'abc', RAPPORT_ENCRYPTION_KEY: 'short' }, NO_FILE));
    expect(e.issues).toHaveLength(2);
    expect(e.message).toMatch(/RAPPORT_PORT must be a number/);
    expect(e.message).toMatch(/RAPPORT_ENCRYPTION_KEY must be 32 bytes/);
    expect(e.message).not.toContain('short');
  });

  it('the CLI exits 3 (configuration) and prints both', async () => {
    const r = await rapportInProcess(['status'], { RAPPORT_PORT: 'abc', RAPPORT_ENCRYPTION_KEY: 'short' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/RAPPORT_PORT must be a number/);
    expect(r.stderr).toMatch(/RAPPORT_ENCRYPTION_KEY must be 32 bytes/);
  });
});

describe('default public URL', () => {
  it('follows the port and the listen host; wildcard hosts fall back to loopback', () => {
    expect(loadConfig({ RAPPORT_PORT: '4100' }, NO_FILE).publicUrl).toBe('http://127.0.0.1:4100');
    expect(loadConfig({ RAPPORT_PORT: '4100' }, NO_FILE, { host: '10.0.0.5' }).publicUrl).toBe('http://10.0.0.5:4100');
    expect(loadConfig({ RAPPORT_PORT: '4100' }, NO_FILE, { host: '0.0.0.0' }).publicUrl).toBe('http://127.0.0.1:4100');
    expect(loadConfig({ RAPPORT_PORT: '4100' }, NO_FILE, { host: '::1' }).publicUrl).toBe('http://[::1]:4100');
    expect(loadConfig({ RAPPORT_PORT: '4100', RAPPORT_PUBLIC_URL: 'https://x.example' }, NO_FILE, { host: '10.0.0.5' }).publicUrl).toBe('https://x.example');
  });
});
