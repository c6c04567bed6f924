/** GET /report on the real app over a real socket (127.0.0.1, port 0): loopback only, cached until the scores change. */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { createLogger } from '../../../src/log.ts';
import { createReportRoutes } from '../../../src/report/routes.ts';
import { scoreContacts } from '../../../src/scoring/score-portal.ts';
import { createApps } from '../../../src/server/app.ts';
import { createStore, type Store } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { contact, DAY, NOW, PORTAL, purchase, survey } from '../scoring/fixtures.ts';
import { assertSelfContained } from './html-checks.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function seededStore(): Promise<{ store: Store; dbPath: string }> {
  const dir = tempDir('rapport-report-http-');
  const dbPath = join(dir.path, 'r.db');
  const store = createStore({ path: dbPath, now: () => NOW });
  await store.records.upsertPage([contact('a'), purchase('a', 20), survey('a', 'NPS', 10, 3), contact('b')]);
  await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW });
  cleanups.push(async () => {
    await store.close();
    dir.cleanup();
  });
  return { store, dbPath };
}

async function listen(fetch: (req: Request, env: unknown) => Response | Promise<Response>): Promise<string> {
  let server: ReturnType<typeof serve> | undefined;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, resolve);
  });
  const s = server as ReturnType<typeof serve>;
  cleanups.push(
    () =>
      new Promise<void>((res) => {
        if ('closeAllConnections' in s) s.closeAllConnections();
        s.close(() => res());
      }),
  );
  return `http://127.0.0.1:${info.port}`;
}

describe('GET /report', () => {
  it('is mounted on the operator listener (not the public one) and serves the page to a loopback client', async () => {
    const { store, dbPath } = await seededStore();
    const config = loadConfig(
      {
        RAPPORT_DB: dbPath,
        RAPPORT_PUBLIC_URL: 'http://127.0.0.1:1',
        RAPPORT_ENCRYPTION_KEY: 'a1'.repeat(32),
        HUBSPOT_CLIENT_ID: 'client-id-test',
        HUBSPOT_CLIENT_SECRET: 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy',
      },
      join(dbPath, '..', 'none.json'),
    );
    const { app, operator } = await createApps({
      store,
      config,
      logger: createLogger({ level: 'silent' }),
      now: () => NOW,
      nudge: () => {},
      onInstalled: () => {},
      rescore: async () => {},
    });
    const publicUrl = await listen(app.fetch);
    expect((await fetch(`${publicUrl}/report?portal=${PORTAL}`)).status).toBe(404);
    const url = await listen(operator.fetch);
    const res = await fetch(`${url}/report?portal=${PORTAL}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html.includes(`Rapport report — ${PORTAL}`)).toBe(true);
    expect(html.includes('id="kpi-nps"')).toBe(true);
    assertSelfContained(html);
  });

  it('rebuilds only when the scores changed; clear errors for a bad or unscored portal; refuses non-loopback clients', async () => {
    const { store } = await seededStore();
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
    const routes = createReportRoutes({ store, logger });
    const url = await listen((req, env) => routes.fetch(req, env));
    const built = () => lines.filter((l) => l.includes('report built')).length;

    const first = await (await fetch(`${url}/?portal=${PORTAL}`)).text();
    const second = await (await fetch(`${url}/?portal=${PORTAL}`)).text();
    expect(second).toBe(first);
    expect(built()).toBe(1);
    await scoreContacts(store, PORTAL, { contactIds: 'all', now: NOW + DAY }); // a new scoring: a new as-of
    const third = await (await fetch(`${url}/?portal=${PORTAL}`)).text();
    expect(built()).toBe(2);
    expect(third).not.toBe(first);

    const bad = await fetch(`${url}/?portal=not-a-portal`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('expected ?portal=hubspot:');
    const missing = await fetch(`${url}/`);
    expect(missing.status).toBe(400);
    const unscored = await fetch(`${url}/?portal=hubspot:777`);
    expect(unscored.status).toBe(404);
    expect(await unscored.text()).toContain('nothing scored yet for hubspot:777');

    // No connection info (not a local socket): refused; allowRemote lifts it.
    const remote = await routes.request(`/?portal=${PORTAL}`);
    expect(remote.status).toBe(403);
    const open = createReportRoutes({ store, logger, allowRemote: true });
    expect((await open.request(`/?portal=${PORTAL}`)).status).toBe(200);
  });
});
