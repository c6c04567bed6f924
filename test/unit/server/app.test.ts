import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cursor } from '../../../src/connectors/types.ts';
import { loadConfig } from '../../../src/config.ts';
import { ConfigError, CrmError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/log.ts';
import { createApp } from '../../../src/server/app.ts';
import { createTokenManager, REFRESH_AHEAD_MS, TOKEN_REUSE_MS } from '../../../src/server/tokens.ts';
import { createStore } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { ENCRYPTION_KEY_HEX, startRapport, type Harness } from './harness.ts';

describe('healthz, metrics and mounted routes', () => {
  let h: Harness;
  let t = 1_800_000_000_000;
  beforeAll(async () => {
    h = await startRapport({ now: () => t });
    await h.store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'http://x', scopes: [] });
    // scored once already: the dirty count is its marks (before, every live contact: none here)
    expect(await h.store.dirty.count('hubspot:1')).toBe(0);
    await h.store.dirty.endFirstPass('hubspot:1', (await h.store.dirty.startFirstPass('hubspot:1'))!);
    await h.store.cursors.set('hubspot:1', 'contacts', 'c1' as Cursor);
    await h.store.outbox.enqueue('hubspot:1', '101', { health: 'red' });
    await h.store.outbox.enqueue('hubspot:1', '102', { health: 'green' });
    await h.store.dirty.mark('hubspot:1', '103', t);
    t += 90_000;
  });
  afterAll(async () => h.close());

  it('healthz reports the database and portals', async () => {
    const res = await fetch(`${h.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, db: 'ok', portals: { connected: 1, disconnected: 0 } });
  });

  it('metrics is Prometheus text with lag, backlog and dirty contacts', async () => {
    const res = await fetch(`${h.operatorUrl}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await res.text();
    expect(text).toContain('# TYPE rapport_sync_lag_seconds gauge');
    expect(text).toContain('rapport_sync_lag_seconds{portal="hubspot:1",crm="hubspot",stream="contacts"} 90');
    expect(text).toContain('rapport_outbox_backlog{portal="hubspot:1",crm="hubspot",status="pending"} 2');
    expect(text).toContain('rapport_dirty_contacts{portal="hubspot:1",crm="hubspot"} 1');
    // every sample line is "name{labels} number"
    for (const line of text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_0-9]+(\{[^}]*\})? (-?[\d.e+-]+|NaN)$/);
    }
  });

  it('mounts the card API publicly and the preview on the operator listener, and answers unknown paths with a JSON 404', async () => {
    const card = await fetch(`${h.url}/api/cards/contacts/101`);
    expect(card.status).toBe(401); // unsigned: refused by the card routes, not a 404
    const preview = await fetch(`${h.operatorUrl}/preview/contacts/101?portal=hubspot:1`);
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${h.url}/preview/contacts/101?portal=hubspot:1`)).status).toBe(404);
    const missing = await fetch(`${h.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found' });
  });
});

describe('install needs configuration', () => {
  it('answers 503 naming what is missing when the OAuth app is not configured', async () => {
    const h = await startRapport({ env: { HUBSPOT_CLIENT_ID: '', HUBSPOT_CLIENT_SECRET: '' } });
    try {
      const res = await fetch(`${h.url}/oauth/hubspot/install`, { redirect: 'manual' });
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('HUBSPOT_CLIENT_ID');
    } finally {
      await h.close();
    }
  });
});

describe('encryption key', () => {
  it('refuses to start without the key when the database holds tokens', async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'r.db');
      const keyed = createStore({ path, encryptionKey: Buffer.from(ENCRYPTION_KEY_HEX, 'hex') });
      await keyed.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'http://x', scopes: [] });
      await keyed.portals.saveTokens('hubspot:1', { accessToken: 'a-token', refreshToken: 'r-token', expiresAt: 1 });
      await keyed.close();
      const store = createStore({ path });
      const config = loadConfig({ RAPPORT_DB: path }, join(dir.path, 'none.json'));
      const deps = { store, config, logger: silentLogger, now: Date.now, nudge: () => {}, onInstalled: () => {}, rescore: async () => {} };
      await expect(createApp(deps)).rejects.toThrow(ConfigError);
      await expect(createTokenManager({ store, config, now: Date.now })).rejects.toThrow(/RAPPORT_ENCRYPTION_KEY/);
      await store.close();
    } finally {
      dir.cleanup();
    }
  });
});

/** A SQLite store with one HubSpot portal whose access token expires `expiresInMs` from now, its config, and the clock the test moves. */
async function portalWithToken(dirPath: string, accessToken: string, expiresInMs: number) {
  const path = join(dirPath, 'r.db');
  const clock = { now: 1_000_000 };
  const store = createStore({ path, encryptionKey: Buffer.from(ENCRYPTION_KEY_HEX, 'hex'), now: () => clock.now });
  const config = loadConfig({ RAPPORT_DB: path, RAPPORT_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX, HUBSPOT_CLIENT_ID: 'c', HUBSPOT_CLIENT_SECRET: 's' }, join(dirPath, 'none.json'));
  await store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'http://127.0.0.1:9', scopes: [] });
  await store.portals.saveTokens('hubspot:1', { accessToken, refreshToken: 'r', expiresAt: clock.now + expiresInMs });
  return { store, config, clock };
}

describe('token manager without HubSpot at hand', () => {
  it('keeps using a still-valid token when a refresh fails transiently, without disconnecting', async () => {
    const dir = tempDir();
    try {
      const { store, config, clock } = await portalWithToken(dir.path, 'old-token', 60_000);
      let calls = 0;
      const down = async () => {
        calls++;
        return new Response('{"status":"error","message":"down"}', { status: 503 });
      };
      const tm = await createTokenManager({ store, config, now: () => clock.now, fetch: down });
      expect(await tm.accessToken('hubspot:1')).toBe('old-token');
      expect(calls).toBe(1);
      expect((await store.portals.get('hubspot:1'))?.status).toBe('connected');
      clock.now += 120_000; // now really expired: the failure surfaces, retryable
      const err = await tm.accessToken('hubspot:1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CrmError);
      expect((err as CrmError).kind).toBe('unavailable');
      expect((await store.portals.get('hubspot:1'))?.status).toBe('connected');
      // no stored tokens (a private-app token is the static connection's own, never asked here):
      // an auth error naming the reinstall, and nothing to refresh
      const none = await tm.accessToken('hubspot:2').catch((e: unknown) => e);
      expect(none).toMatchObject({ kind: 'auth', message: expect.stringMatching(/No tokens for portal hubspot:2: reinstall via .*\/oauth\/hubspot\/install/) });
      expect(await tm.onUnauthorized('hubspot:2')).toBeNull();
      await store.close();
    } finally {
      dir.cleanup();
    }
  });

  it('reuses a token read from the store for TOKEN_REUSE_MS, never past its refresh point, and reads again after a 401', async () => {
    const dir = tempDir();
    try {
      const { store, config, clock } = await portalWithToken(dir.path, 'a1', REFRESH_AHEAD_MS + 2_000);
      let reads = 0;
      const counted = { ...store, portals: { ...store.portals, tokens: (p: string) => (reads++, store.portals.tokens(p)) } };
      const refreshes: string[] = [];
      const fetch = async () => {
        refreshes.push('refresh');
        return Response.json({ access_token: 'a3', refresh_token: 'r', expires_in: 1800, token_type: 'bearer' });
      };
      const tm = await createTokenManager({ store: counted, config, now: () => clock.now, fetch });
      expect(await tm.accessToken('hubspot:1')).toBe('a1');
      // another process stores a new token: this one keeps the one it read, which still works
      await store.portals.saveTokens('hubspot:1', { accessToken: 'a2', refreshToken: 'r', expiresAt: clock.now + 3_600_000 });
      clock.now += 1_000;
      expect(await tm.accessToken('hubspot:1')).toBe('a1');
      expect(reads).toBe(1);
      // 2 s to its refresh-ahead point, less than TOKEN_REUSE_MS: read again from there on
      clock.now += 1_000;
      expect(await tm.accessToken('hubspot:1')).toBe('a2');
      expect(reads).toBe(2);
      clock.now += TOKEN_REUSE_MS - 1;
      expect(await tm.accessToken('hubspot:1')).toBe('a2');
      clock.now += 1;
      expect(await tm.accessToken('hubspot:1')).toBe('a2');
      expect(reads).toBe(3);
      // a 401 forgets the reused token and refreshes; the fresh token is the one reused next
      await store.portals.saveTokens('hubspot:1', { accessToken: 'revoked', refreshToken: 'r', expiresAt: clock.now + 3_600_000 });
      expect(await tm.onUnauthorized('hubspot:1')).toBe('a3');
      expect(refreshes).toHaveLength(1);
      expect(await tm.accessToken('hubspot:1')).toBe('a3');
      await store.close();
    } finally {
      dir.cleanup();
    }
  });
});
