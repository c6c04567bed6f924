import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/commands/demo.ts';
import { rapportInProcess } from '../../support/cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.cleanup());

/** Starts `rapport serve` in this process, returns its first message, then stops it with the signal. */
async function serveBanner(args: string[], env: Record<string, string> = {}) {
  dir = tempDir();
  const controller = new AbortController();
  const run = rapportInProcess(['serve', ...args], { RAPPORT_DB: join(dir.path, 'r.db'), ...env }, controller.signal);
  // the banner is written once the server listens; poll the in-process server instead of sleeping blindly
  const port = Number(args[args.indexOf('--port') + 1]);
  const host = args.includes('--host') ? args[args.indexOf('--host') + 1] : '127.0.0.1';
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://${host}:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  controller.abort();
  return run;
}

describe('rapport serve', () => {
  it('--port N: the default public URL follows the port (not RAPPORT_PORT\'s 3000)', async () => {
    const port = await freePort();
    const r = await serveBanner(['--port', String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`listening on http://127.0.0.1:${port} (public URL http://127.0.0.1:${port})`);
    expect(r.stderr).toContain(`install at http://127.0.0.1:${port}/oauth/hubspot/install`);
    expect(r.stderr).not.toContain(':3000');
  });

  it('--host H: the default public URL follows the host too', async () => {
    const port = await freePort();
    const r = await serveBanner(['--port', String(port), '--host', '127.0.0.2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`(public URL http://127.0.0.2:${port})`);
  });

  it('an explicit RAPPORT_PUBLIC_URL wins over --port and --host', async () => {
    const port = await freePort();
    const r = await serveBanner(['--port', String(port)], { RAPPORT_PUBLIC_URL: 'https://rapport.example.com' });
    expect(r.stderr).toContain('(public URL https://rapport.example.com)');
  });

  it('a bad --port is a usage error (exit 2) naming the value', async () => {
    const r = await rapportInProcess(['serve', '--port', 'http'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port must be an integer between 0 and 65535, got "http"');
  });

  it('the web and worker roles need Postgres (the job queue lives there): a clear configuration error, not a half-started server', async () => {
    dir = tempDir();
    const env = { RAPPORT_DB: join(dir.path, 'r.db') };
    const web = await rapportInProcess(['serve', '--role', 'web', '--port', '0'], env);
    expect(web.code).toBe(3);
    expect(web.stderr).toContain('the job queue lives in Postgres: set RAPPORT_DATABASE_URL');
    const worker = await rapportInProcess(['worker'], env);
    expect(worker.code).toBe(3);
    expect(worker.stderr).toContain('the job queue lives in Postgres: set RAPPORT_DATABASE_URL');
  });

  it('a bad --role or --concurrency is a usage error (exit 2) naming the value', async () => {
    const role = await rapportInProcess(['serve', '--role', 'worker'], {});
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role must be all or web, got "worker"');
    const concurrency = await rapportInProcess(['worker', '--concurrency', '0'], {});
    expect(concurrency.code).toBe(2);
    expect(concurrency.stderr).toContain('--concurrency must be an integer from 1 to 64, got "0"');
  });
});
