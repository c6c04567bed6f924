import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { CrmError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport } from '../../src/main.ts';
import { createTokenManager } from '../../src/server/tokens.ts';
import { createStore } from '../../src/store/index.ts';
import { rapportInProcess } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

/**
 * Issue 15 item 6: one unreadable token (a damaged row, a wrong RAPPORT_ENCRYPTION_KEY) made
 * `rapport serve` exit 1 with "unable to authenticate data" for every tenant.
 */
const KEY_A = 'a1'.repeat(32);
const KEY_B = 'b2'.repeat(32);
const KEY_C = 'c3'.repeat(32);
const P1 = 'hubspot:101';
const P2 = 'hubspot:102';
const FUTURE = Date.now() + 30 * 86_400_000;

let dir: ReturnType<typeof tempDir>;
afterEach(() => dir.cleanup());

/** A database holding two installed portals whose tokens were sealed with `key`. */
async function installedDb(key: string, opts: { keyCheck?: boolean } = {}): Promise<string> {
  dir = tempDir();
  const path = join(dir.path, 'rapport.db');
  const store = createStore({ path, encryptionKey: Buffer.from(key, 'hex') });
  for (const portal of [P1, P2]) {
    await store.portals.upsert({ portal, crm: 'hubspot', externalId: portal.slice(8), baseUrl: 'http://127.0.0.1:9', scopes: ['crm.objects.contacts.read'] });
    await store.portals.saveTokens(portal, { accessToken: `at-${portal}`, refreshToken: `rt-${portal}`, expiresAt: FUTURE });
  }
  if (opts.keyCheck === true) expect(await store.portals.keyCheck()).toBe('current');
  await store.close();
  return path;
}

async function damage(path: string, portal: string): Promise<void> {
  // a raw connection to the file: this test damages what the store wrote
  const db = new Database(path);
  // flip one byte of the ciphertext: GCM's tag no longer matches
  const sealed = Buffer.from(db.prepare('SELECT access_token FROM tokens WHERE portal = ?').pluck().get(portal) as Buffer);
  sealed[30] = (sealed[30] ?? 0) ^ 0xff;
  db.prepare('UPDATE tokens SET access_token = ? WHERE portal = ?').run(sealed, portal);
  db.close();
}

const env = (path: string, extra: Record<string, string> = {}) => ({ RAPPORT_DB: path, RAPPORT_PUBLIC_URL: 'https://rapport.example.test', ...extra });
const config = (path: string, extra: Record<string, string> = {}) => loadConfig(env(path, extra), '/nonexistent/rapport.config.json');

describe('a token no key reads', () => {
  it('disconnects that portal only ("token unreadable"); the others start', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    await damage(path, P2);
    const rapport = await createRapport({ config: config(path, { RAPPORT_ENCRYPTION_KEY: KEY_A }), logger: silentLogger });
    try {
      expect(await rapport.connectPortals()).toEqual([P1]);
      expect(rapport.connector(P1)).toBeDefined();
      expect(rapport.connector(P2)).toBeUndefined();
      const p2 = await rapport.store.portals.get(P2);
      expect(p2?.status).toBe('disconnected');
      expect(p2?.statusReason).toMatch(/^token unreadable: .*reinstall via https:\/\/rapport\.example\.test\/oauth\/hubspot\/install/);
      expect((await rapport.store.portals.get(P1))?.status).toBe('connected');
    } finally {
      await rapport.close();
    }
  });

  it('damaged while running: that portal fails as an auth error and is disconnected, the other keeps its token', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    const store = createStore({ path, encryptionKey: Buffer.from(KEY_A, 'hex') });
    try {
      const tokens = await createTokenManager({ store, config: config(path, { RAPPORT_ENCRYPTION_KEY: KEY_A }), now: Date.now });
      await damage(path, P1);
      const err = await tokens.accessToken(P1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmError);
      expect(err).toMatchObject({ kind: 'auth', details: { code: 'TOKEN_UNREADABLE' } });
      expect((await store.portals.get(P1))?.statusReason).toMatch(/^token unreadable/);
      expect(await tokens.onUnauthorized(P1)).toBeNull();
      expect(await tokens.accessToken(P2)).toBe(`at-${P2}`);
    } finally {
      await store.close();
    }
  });
});

describe('a wrong RAPPORT_ENCRYPTION_KEY', () => {
  it('is a configuration error (exit 3) with a clear message, checked against the stored key-check value', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    const r = await rapportInProcess(['serve', '--port', '0'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_B }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/RAPPORT_ENCRYPTION_KEY does not match the key the stored CRM tokens were encrypted with/);
    expect(r.stderr).not.toMatch(/unable to authenticate|\n\s+at /);
    expect(r.stderr).not.toContain(KEY_B);
  });

  it('is caught in a database written before the key-check value existed (judged by its tokens)', async () => {
    const path = await installedDb(KEY_A);
    const r = await rapportInProcess(['serve', '--port', '0'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_B }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/does not match/);
    // the right key still works, and the check value is written for next time
    const store = createStore({ path, encryptionKey: Buffer.from(KEY_A, 'hex') });
    expect(await store.portals.keyCheck()).toBe('current');
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) FROM settings WHERE name = 'key_check'").pluck().get()).toBe(1);
    db.close();
  });
});

describe('rapport keys rotate', () => {
  it('reads with the previous key meanwhile, re-seals everything with the new one, then the old key is refused', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    const rotating = { RAPPORT_ENCRYPTION_KEY: KEY_B, RAPPORT_ENCRYPTION_KEY_PREVIOUS: KEY_A };

    // while rotating, the server starts and reads every portal's tokens
    const rapport = await createRapport({ config: config(path, rotating), logger: silentLogger });
    expect(await rapport.connectPortals()).toEqual([P1, P2]);
    expect((await rapport.store.portals.tokens(P1))?.accessToken).toBe(`at-${P1}`);
    await rapport.close();

    const r = await rapportInProcess(['keys', 'rotate'], env(path, rotating));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`2 portal(s) re-encrypted with RAPPORT_ENCRYPTION_KEY (${P1}, ${P2})`);
    expect(r.stdout).not.toContain(KEY_A);

    // the new key alone reads everything
    const store = createStore({ path, encryptionKey: Buffer.from(KEY_B, 'hex') });
    expect(await store.portals.keyCheck()).toBe('current');
    expect(await store.portals.tokens(P2)).toEqual({ accessToken: `at-${P2}`, refreshToken: `rt-${P2}`, expiresAt: FUTURE });
    await store.close();
    // the old key is now the wrong key
    const old = await rapportInProcess(['serve', '--port', '0'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_A }));
    expect(old.code).toBe(3);
    // running it again is harmless
    expect((await rapportInProcess(['keys', 'rotate'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_B }))).code).toBe(0);
  });

  it('refuses when neither key matches (exit 3) and changes nothing', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    const r = await rapportInProcess(['keys', 'rotate'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_C, RAPPORT_ENCRYPTION_KEY_PREVIOUS: KEY_B }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Neither RAPPORT_ENCRYPTION_KEY nor RAPPORT_ENCRYPTION_KEY_PREVIOUS/);
    const store = createStore({ path, encryptionKey: Buffer.from(KEY_A, 'hex') });
    expect((await store.portals.tokens(P1))?.accessToken).toBe(`at-${P1}`);
    await store.close();
  });

  it('leaves a damaged token as it is, lists it and exits 1; the others are re-sealed', async () => {
    const path = await installedDb(KEY_A, { keyCheck: true });
    await damage(path, P1);
    const r = await rapportInProcess(['keys', 'rotate', '--json'], env(path, { RAPPORT_ENCRYPTION_KEY: KEY_B, RAPPORT_ENCRYPTION_KEY_PREVIOUS: KEY_A }));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ resealed: [P2], unreadable: [P1] });
    const store = createStore({ path, encryptionKey: Buffer.from(KEY_B, 'hex') });
    expect((await store.portals.tokens(P2))?.accessToken).toBe(`at-${P2}`);
    await expect(store.portals.tokens(P1)).rejects.toThrow(/cannot be decrypted/);
    await store.close();
  });

  it('a previous key without a current one is a configuration error', () => {
    dir = tempDir();
    expect(() => config(join(dir.path, 'x.db'), { RAPPORT_ENCRYPTION_KEY_PREVIOUS: KEY_A })).toThrow(/RAPPORT_ENCRYPTION_KEY_PREVIOUS is set without RAPPORT_ENCRYPTION_KEY/);
  });
});
