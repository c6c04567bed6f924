/**
 * The card preview and the report are pages a person opens in a browser: a missing or malformed
 * `?portal=` is answered the same way by both — an HTML page that says what to add and which
 * portals exist — while the preview's API keeps answering JSON. (The preview used to answer
 * its page with JSON and the report with HTML.)
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import { createApps } from '../../../src/server/app.ts';
import { createStore } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): Promise<string> {
  const dir = tempDir('rapport-page-errors-');
  const dbPath = join(dir.path, 'r.db');
  const store = createStore({ path: dbPath });
  await store.portals.upsert({ portal: 'hubspot:12345678', crm: 'hubspot', externalId: '12345678', baseUrl: 'http://127.0.0.1:1', scopes: [] });
  const config = loadConfig({ RAPPORT_DB: dbPath, RAPPORT_PUBLIC_URL: 'http://127.0.0.1:1' }, join(dir.path, 'none.json'));
  // the browser pages live on the operator listener (docs/operations.md, Security)
  const { operator: app } = await createApps({
    store,
    config,
    logger: createLogger({ level: 'silent' }),
    now: () => Date.now(),
    nudge: () => {},
    onInstalled: () => {},
    rescore: async () => {},
  });
  let server: ReturnType<typeof serve> | undefined;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, resolve);
  });
  cleanups.push(
    () =>
      new Promise<void>((res) => {
        const s = server as ReturnType<typeof serve>;
        if ('closeAllConnections' in s) s.closeAllConnections();
        s.close(() => res());
      }),
    async () => {
      await store.close();
      dir.cleanup();
    },
  );
  return `http://127.0.0.1:${info.port}`;
}

describe('a missing portal on the browser pages', () => {
  it('the preview page and the report both answer 400 with the same HTML hint naming the connected portals', async () => {
    const url = await start();
    const bodies: string[] = [];
    for (const path of ['/preview/contacts/101', '/preview/contacts/101?portal=nope', '/report', '/report?portal=nope']) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(400);
      expect(r.headers.get('content-type'), path).toContain('text/html');
      const html = await r.text();
      expect(html, path).toContain('<h1>Which portal?</h1>');
      expect(html, path).toContain('expected ?portal=hubspot:&lt;hub id&gt; or ?portal=salesforce:&lt;org id&gt;. Connected: hubspot:12345678.');
      bodies.push(html.slice(html.indexOf('<body')));
    }
    expect(new Set(bodies).size).toBe(1);
  });

  it('a preview page for a malformed contact id is an HTML 404; the API keeps its JSON errors', async () => {
    const url = await start();
    const page = await fetch(`${url}/preview/contacts/${encodeURIComponent('<b>')}?portal=hubspot:12345678`);
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('The address names no contact');
    const api = await fetch(`${url}/preview/api/cards/contacts/101`);
    expect(api.status).toBe(400);
    expect(api.headers.get('content-type')).toContain('application/json');
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('bad_request');
  });
});
