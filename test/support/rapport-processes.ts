/**
 * Test support for multi-process tests (test/postgres/roles.test.ts, many-portals.test.ts): real
 * `rapport` processes (src/cli.ts under tsx) with their output kept, a wait that shows every
 * process's last output when it times out, and the sandbox's count of contacts not yet scored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { HubspotSandbox } from '../../src/sandbox/hubspot/index.ts';

export type Proc = { name: string; child: ChildProcess; log: string[] };

export function rapportProcesses(env: () => Record<string, string>) {
  const procs: Proc[] = [];
  return {
    procs,
    /** `rapport <args>` as a child process named `name` */
    start(name: string, args: string[]): Proc {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
      const p: Proc = { name, child, log: [] };
      child.stdout?.on('data', (b: Buffer) => p.log.push(b.toString()));
      child.stderr?.on('data', (b: Buffer) => p.log.push(b.toString()));
      procs.push(p);
      return p;
    },
    /** every process's last output, for a failure message */
    tails: () => procs.map((p) => `--- ${p.name}\n${p.log.join('').slice(-1500)}`).join('\n'),
    /** SIGTERM to every process still running, then waits for them to exit */
    async stopAll(): Promise<void> {
      for (const p of procs) if (alive(p)) p.child.kill('SIGTERM');
      await Promise.all(procs.map((p) => (alive(p) ? new Promise((r) => p.child.once('exit', r)) : undefined)));
    },
  };
}

export const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
export const lines = (p: Proc) => p.log.join('').split('\n');

/** Polls `ok` (delivering a HubSpot sandbox's pending webhooks in between) until it holds or `ms` pass. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number, o: { sandbox?: HubspotSandbox; tails: () => string }): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${o.tails()}`);
    await o.sandbox?.webhooks.flush();
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Contacts of a sandbox account with no Rapport score written yet. */
export function unscored(sandbox: HubspotSandbox, hubId: number): number {
  let n = 0;
  for (const c of sandbox.data.iterate(hubId, 'contacts')) if (c.properties['rapport_health'] == null) n++;
  return n;
}

/** The environment of a web + workers deployment on Postgres against a HubSpot sandbox app. */
export function deploymentEnv(o: { databaseUrl: string; port: number; hubspotBaseUrl: string; app: { clientId: string; clientSecret: string; appId: number } }): Record<string, string> {
  return {
    RAPPORT_DATABASE_URL: o.databaseUrl,
    RAPPORT_PORT: String(o.port),
    RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    HUBSPOT_BASE_URL: o.hubspotBaseUrl,
    HUBSPOT_CLIENT_ID: o.app.clientId,
    HUBSPOT_CLIENT_SECRET: o.app.clientSecret,
    HUBSPOT_APP_ID: String(o.app.appId),
    RAPPORT_JOB_HEARTBEAT_SECONDS: '10',
    RAPPORT_LOG_LEVEL: 'info',
  };
}
