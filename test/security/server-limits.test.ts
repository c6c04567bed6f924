/**
 * Issue 15 item 13: no request or header timeout and no connection cap (300 slow-trickle uploads
 * stayed open over 110 s). Through `createRapport().listen()`, the real entry of `rapport serve`,
 * with RAPPORT_REQUEST_TIMEOUT_MS and RAPPORT_MAX_CONNECTIONS set low.
 */
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { createRapport, type Rapport } from '../../src/main.ts';
import { tempDir } from '../support/temp-dir.ts';
import { ENCRYPTION_KEY_HEX } from '../unit/server/harness.ts';
import { rawSocket } from './support.ts';

/** resolves with how long the server took to close the socket (or `limitMs` if it did not) */
const closedWithin = (s: Socket, limitMs: number): Promise<number> =>
  new Promise((resolve) => {
    const t0 = performance.now();
    const timer = setTimeout(() => resolve(limitMs), limitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
    s.on('error', () => {});
    s.on('data', () => {});
  });

describe('HTTP server limits (item 13)', () => {
  let rapport: Rapport;
  let url: string;
  const dir = tempDir('rapport-limits-');
  beforeAll(async () => {
    const config = loadConfig(
      { RAPPORT_DB: join(dir.path, 'r.db'), RAPPORT_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX, RAPPORT_REQUEST_TIMEOUT_MS: '1500', RAPPORT_MAX_CONNECTIONS: '8' },
      join(dir.path, 'none.json'),
    );
    rapport = await createRapport({ config, logger: silentLogger });
    ({ url } = await rapport.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await rapport.close();
    dir.cleanup();
  });

  it('a slow-trickle upload is cut off after the request timeout', async () => {
    const s = await rawSocket(url);
    s.write('POST /webhooks/hubspot HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
    const trickle = setInterval(() => s.writable && s.write('['), 200);
    const ms = await closedWithin(s, 8000);
    clearInterval(trickle);
    expect(ms).toBeLessThan(6000);
  });

  it('headers trickled byte by byte are cut off too', async () => {
    const s = await rawSocket(url);
    const header = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'a'.repeat(10_000);
    let i = 0;
    const trickle = setInterval(() => s.writable && s.write(header[i++ % header.length] ?? 'a'), 100);
    const ms = await closedWithin(s, 8000);
    clearInterval(trickle);
    expect(ms).toBeLessThan(6000);
  });

  it(`connections beyond RAPPORT_MAX_CONNECTIONS are closed on accept; the server keeps answering`, async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => rawSocket(url)));
    const extra = await Promise.all(Array.from({ length: 4 }, () => rawSocket(url)));
    const closed = await Promise.all(extra.map((s) => closedWithin(s, 2000)));
    expect(closed.every((ms) => ms < 2000)).toBe(true);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('the settings are validated', () => {
    expect(() => loadConfig({ RAPPORT_REQUEST_TIMEOUT_MS: '5' }, '/nonexistent.json')).toThrow(/RAPPORT_REQUEST_TIMEOUT_MS/);
    expect(() => loadConfig({ RAPPORT_MAX_CONNECTIONS: '0' }, '/nonexistent.json')).toThrow(/RAPPORT_MAX_CONNECTIONS/);
    expect(loadConfig({}, '/nonexistent.json').server).toEqual({ requestTimeoutMs: 30_000, maxConnections: 512 });
  });
});
