/**
 * Issue 15 item 2: the preview, the report and POST …/rescore were public behind a same-host
 * reverse proxy ("loopback" was the peer address, and the proxy connects from 127.0.0.1), with
 * no Host check (DNS rebinding) and no Origin check on the preview's POST; /metrics named every
 * portal. Now they are only on the operator listener (127.0.0.1, off unless
 * RAPPORT_OPERATOR_PORT is set), which answers loopback Host names only and same-origin POSTs
 * only; /metrics is public only with a bearer token.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport } from '../../src/main.ts';
import { hostnameOf } from '../../src/server/operator.ts';
import { tempDir } from '../support/temp-dir.ts';
import { NOW, PORTAL_A, scores } from '../unit/cards/fixtures.ts';
import { ENCRYPTION_KEY_HEX, startRapport, type Harness } from '../unit/server/harness.ts';

/** A request with a Host header of our choosing (fetch forbids setting it), as a rebinding page or a proxy sends. */
function get(url: string, o: { host?: string; method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: { ...(o.host === undefined ? {} : { host: o.host }), ...o.headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('public vs operator listener (issue 15 item 2)', () => {
  let h: Harness;
  const rescored: string[] = [];
  beforeAll(async () => {
    h = await startRapport({ env: { RAPPORT_METRICS_TOKEN: 'm'.repeat(32) } });
    await h.store.portals.upsert({ portal: PORTAL_A, crm: 'hubspot', externalId: '62515', baseUrl: 'http://x', scopes: [] });
    await h.store.records.upsertPage([
      { portal: PORTAL_A, type: 'contacts', id: '101', contactIds: undefined, companyId: null, updatedAt: NOW, deleted: false, data: { email: 'a@x.io', emailRaw: 'a@x.io', phone: null, phoneRaw: null, firstName: 'A', lastName: 'B', createdAt: 1, lifecycleStage: null } },
    ]);
    await h.store.saveScores(PORTAL_A, [{ properties: {}, scores: scores('101', NOW) }], { clearIds: [], readAt: 0, volatile: [] });
  });
  afterAll(async () => h.close());

  it('the public listener serves no preview, report or rescore, even to a proxy on 127.0.0.1', async () => {
    // the harness's public listener is on 127.0.0.1: exactly what a same-host proxy looks like
    for (const path of [`/preview/contacts/101?portal=${PORTAL_A}`, `/preview/api/cards/contacts/101?portal=${PORTAL_A}`, `/report?portal=${PORTAL_A}`]) {
      const r = await get(`${h.url}${path}`, { host: 'rapport.example.com' });
      expect(r.status, path).toBe(404);
      expect(r.body).not.toContain('72');
    }
    const post = await fetch(`${h.url}/preview/api/cards/contacts/101/rescore?portal=${PORTAL_A}`, { method: 'POST' });
    expect(post.status).toBe(404);
    expect(rescored).toEqual([]);
  });

  it('public /metrics needs the bearer token (RAPPORT_METRICS_TOKEN): portal ids are not for everyone', async () => {
    const anon = await fetch(`${h.url}/metrics`);
    expect(anon.status).toBe(401);
    expect(await anon.text()).not.toContain(PORTAL_A);
    expect((await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${'x'.repeat(32)}` } })).status).toBe(401);
    const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${'m'.repeat(32)}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(`rapport_portal_connected{portal="${PORTAL_A}",crm="hubspot"}`);
  });

  it('the operator listener answers loopback names only (DNS rebinding)', async () => {
    const port = new URL(h.operatorUrl).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
      expect((await get(`${h.operatorUrl}/preview/api/cards/contacts/101?portal=${PORTAL_A}`, { host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'rebind.127.0.0.1.nip.io', `127.0.0.1.evil.example:${port}`, 'user@127.0.0.1']) {
      // 403 from the guard, or 400 when @hono/node-server already refuses a malformed Host
      const r = await get(`${h.operatorUrl}/preview/api/cards/contacts/101?portal=${PORTAL_A}`, { host });
      expect([400, 403], host).toContain(r.status);
      expect(r.body).not.toContain('72.4');
      expect([400, 403]).toContain((await get(`${h.operatorUrl}/metrics`, { host })).status);
      expect([400, 403]).toContain((await get(`${h.operatorUrl}/report?portal=${PORTAL_A}`, { host })).status);
    }
  });

  it('POSTs to the operator listener need their own Origin (CSRF from any web page)', async () => {
    const url = `${h.operatorUrl}/preview/api/cards/contacts/101/rescore?portal=${PORTAL_A}`;
    const host = new URL(h.operatorUrl).host;
    expect((await get(url, { method: 'POST' })).status).toBe(403); // no Origin at all
    expect((await get(url, { method: 'POST', headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await get(url, { method: 'POST', headers: { origin: 'http://localhost:1' } })).status).toBe(403);
    expect((await get(url, { method: 'POST', headers: { origin: `http://${host}`, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    const ok = await get(url, { method: 'POST', headers: { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).toBe(200);
  });

  it('hostnameOf takes a Host header apart strictly', () => {
    expect(hostnameOf('127.0.0.1:9')).toBe('127.0.0.1');
    expect(hostnameOf('[::1]:9')).toBe('[::1]');
    expect(hostnameOf('a@127.0.0.1')).toBeUndefined();
    expect(hostnameOf('127.0.0.1/x')).toBeUndefined();
    expect(hostnameOf(undefined)).toBeUndefined();
  });
});

describe('rapport serve wiring', () => {
  async function start(env: Record<string, string>) {
    const dir = tempDir('rapport-operator-');
    const config = loadConfig({ RAPPORT_DB: join(dir.path, 'r.db'), RAPPORT_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX, ...env }, join(dir.path, 'none.json'));
    const rapport = await createRapport({ config, logger: silentLogger });
    const urls = await rapport.listen(0, '127.0.0.1');
    return { ...urls, close: async () => (await rapport.close(), dir.cleanup()) };
  }

  it('operator routes are off unless RAPPORT_OPERATOR_PORT is set; then on their own 127.0.0.1 listener', async () => {
    const off = await start({});
    try {
      expect(off.operatorUrl).toBeUndefined();
      expect((await fetch(`${off.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${off.url}/report?portal=hubspot:1`)).status).toBe(404);
    } finally {
      await off.close();
    }
    const on = await start({ RAPPORT_OPERATOR_PORT: '0' });
    try {
      expect(on.operatorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(on.operatorUrl).not.toBe(on.url);
      expect((await fetch(`${on.operatorUrl}/metrics`)).status).toBe(200);
      expect((await fetch(`${on.url}/metrics`)).status).toBe(404);
    } finally {
      await on.close();
    }
  });
});
