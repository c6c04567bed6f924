import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Client } from '@hubspot/api-client';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli.ts';
import type { CliIo } from '../../../src/commands/command.ts';
import { parseFaults, parseLimits } from '../../../src/commands/sandbox.ts';
import { EXIT } from '../../../src/errors.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** `rapport sandbox` through the CLI registry, serving real HTTP until its signal aborts. */
function captureIo(): { io: CliIo; out: () => string; err: () => string; stop: () => void; printed: Promise<string> } {
  let out = '';
  let err = '';
  const controller = new AbortController();
  let notify: (s: string) => void = () => {};
  const printed = new Promise<string>((resolve) => (notify = resolve));
  const io: CliIo = {
    stdout: (t) => {
      out += t;
      if (out.includes('\n')) notify(out);
    },
    stderr: (t) => {
      err += t;
    },
    isTTY: false,
    env: {},
    signal: controller.signal,
  };
  return { io, out: () => out, err: () => err, stop: () => controller.abort(), printed };
}

describe('rapport sandbox', () => {
  it('serves a generated account with the given token, writes the truth file, and stops on the signal', async () => {
    const dir = tempDir();
    try {
      const truthFile = join(dir.path, 'truth.jsonl');
      const c = captureIo();
      const running = runCli(
        ['sandbox', '--port', '0', '--contacts', '30', '--seed', '5', '--token', 'pat-cli-test', '--truth', truthFile, '--limits', 'off', '--json'],
        c.io,
      );
      const info = JSON.parse(await Promise.race([c.printed, running.then((code) => `exit ${code}: ${c.err()}`)])) as {
        baseUrl: string;
        hubId: number;
        accessToken: string;
        adminToken: string;
        contacts: number;
        truthLines: number;
      };
      expect(info.accessToken).toBe('pat-cli-test');
      expect(info.hubId).toBe(12_345_678);
      expect(info.contacts).toBe(30);

      // the real client pages through every contact with the printed token
      const client = new Client({ accessToken: info.accessToken, basePath: info.baseUrl });
      let seen = 0;
      let after: string | undefined;
      do {
        const page = await client.crm.contacts.basicApi.getPage(10, after);
        seen += page.results.length;
        after = page.paging?.next?.after;
      } while (after !== undefined);
      expect(seen).toBe(30);

      // the admin token it printed opens the admin API
      const stats = await fetch(`${info.baseUrl}/_sandbox/stats`, { headers: { Authorization: `Bearer ${info.adminToken}` } });
      expect(stats.status).toBe(200);

      const truth = readFileSync(truthFile, 'utf8').trim().split('\n');
      expect(truth).toHaveLength(info.truthLines);
      expect(truth.length).toBeGreaterThan(0);
      expect(JSON.parse(truth[0]!)).toHaveProperty('churnProbability90d');

      c.stop();
      expect(await running).toBe(EXIT.ok);
      await expect(fetch(`${info.baseUrl}/crm/v3/objects/contacts`)).rejects.toThrow();
    } finally {
      dir.cleanup();
    }
  });

  it('registers the OAuth app and delivers signed webhooks to --webhook-url', async () => {
    const got: unknown[] = [];
    const hook = new Hono().post('/hook', async (c) => {
      got.push({ sig: c.req.header('x-hubspot-signature-v3'), events: await c.req.json() });
      return c.body(null, 204);
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: hook.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    const c = captureIo();
    try {
      const webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const running = runCli(
        ['sandbox', '--contacts', '0', '--client-id', 'cid-cli', '--client-secret', 'sec-cli', '--app-id', '99', '--webhook-url', webhookUrl, '--admin-token', 'admin-cli-token', '--json'],
        c.io,
      );
      const info = JSON.parse(await Promise.race([c.printed, running.then((code) => `exit ${code}: ${c.err()}`)])) as { baseUrl: string; hubId: number; contacts: number };
      expect(info.contacts).toBe(0);
      const q = new URLSearchParams({ client_id: 'cid-cli', redirect_uri: 'http://localhost/cb', scope: 'crm.objects.contacts.read', hub_id: String(info.hubId) });
      const authorized = await fetch(`${info.baseUrl}/oauth/authorize?${q.toString()}`, { redirect: 'manual' });
      expect(authorized.status).toBe(302);
      expect(authorized.headers.get('location')).toContain('code=');

      const headers = { Authorization: 'Bearer admin-cli-token', 'Content-Type': 'application/json' };
      const created = await fetch(`${info.baseUrl}/_sandbox/${info.hubId}/objects/contacts`, { method: 'POST', headers, body: JSON.stringify({ properties: { email: 'w@example.com' } }) });
      expect(created.status).toBe(201);
      await fetch(`${info.baseUrl}/_sandbox/webhooks/flush`, { method: 'POST', headers });
      expect(got).toEqual([{ sig: expect.any(String), events: [expect.objectContaining({ subscriptionType: 'contact.creation', portalId: info.hubId, appId: 99 })] }]);
      c.stop();
      expect(await running).toBe(EXIT.ok);
    } finally {
      c.stop();
      await new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
    }
  });

  it('--help prints the usage; bad flags exit 2 naming every problem', async () => {
    const help = captureIo();
    expect(await runCli(['sandbox', '--help'], help.io)).toBe(EXIT.ok);
    expect(help.out()).toContain('Usage: rapport sandbox');
    expect(help.out()).toContain('--faults');

    const bad = captureIo();
    expect(await runCli(['sandbox', '--port', 'x', '--faults', '429=2,boom=1', '--limits', '5'], bad.io)).toBe(EXIT.usage);
    expect(bad.err()).toContain('--port');
    expect(bad.err()).toContain('429');
    expect(bad.err()).toContain('--limits');
    expect(bad.out()).toBe('');

    const unknown = captureIo();
    expect(await runCli(['sandbox', '--nope'], unknown.io)).toBe(EXIT.usage);
    expect(unknown.err()).toContain('--nope');

    const webhook = captureIo();
    expect(await runCli(['sandbox', '--webhook-url', 'http://127.0.0.1:1/h'], webhook.io)).toBe(EXIT.usage);
    expect(webhook.err()).toContain('--client-secret');
  });

  it('parses fault and limit specs', () => {
    expect(parseFaults('429=0.1,500=0.05,timeout=0.01,malformed=0.01')).toEqual({ '429': 0.1, '500': 0.05, timeout: 0.01, malformed: 0.01 });
    expect(parseFaults('')).toEqual({});
    expect(parseFaults('429')).toMatch(/KIND=PROBABILITY/);
    expect(parseFaults('500=-1')).toMatch(/between 0 and 1/);
    expect(parseLimits('off')).toBe(false);
    expect(parseLimits('190,5')).toEqual({ per10s: 190, searchPerSecond: 5 });
    expect(parseLimits('0,5')).toMatch(/expected/);
  });
});
