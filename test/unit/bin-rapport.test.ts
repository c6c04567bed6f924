/**
 * bin/rapport, the operator's entry point: the pinned Node 22 (the `node` dependency) whatever
 * node is on PATH; the build (dist/cli.js) when there is one; clear errors when it cannot run.
 * Each case is a copy of the script in a temporary tree laid out like an install.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.ts';
import { tempDir } from '../support/temp-dir.ts';

const dirs: { cleanup: () => void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

/** A tree with bin/rapport, optionally the pinned node, a dist/cli.js and tsx. */
function tree(opts: { node?: boolean; dist?: boolean; tsx?: boolean }): string {
  const d = tempDir('rapport-bin-');
  dirs.push(d);
  mkdirSync(join(d.path, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'rapport'), join(d.path, 'bin', 'rapport'));
  if (opts.node === true) {
    mkdirSync(join(d.path, 'node_modules', 'node', 'bin'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', 'node', 'bin', 'node'), join(d.path, 'node_modules', 'node', 'bin', 'node'));
  }
  if (opts.dist === true) {
    mkdirSync(join(d.path, 'dist'));
    writeFileSync(join(d.path, 'dist', 'cli.js'), 'console.log(`dist ${process.version} ${process.argv.slice(2).join(" ")}`);\n');
  }
  if (opts.tsx === true) {
    mkdirSync(join(d.path, 'node_modules', 'tsx', 'dist', 'esm'), { recursive: true });
    writeFileSync(join(d.path, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs'), '');
    mkdirSync(join(d.path, 'src'));
    writeFileSync(join(d.path, 'src', 'cli.ts'), 'console.log(`source ${process.version}`);\n');
  }
  return d.path;
}

// /usr/bin first: the system node there (if any) is not the one that must run
const run = (root: string, env: Record<string, string> = {}) =>
  spawnSync(join(root, 'bin', 'rapport'), ['demo', '--once'], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...env }, encoding: 'utf8' });

/** Runs `script` as the build's dist/cli.js under `bin/rapport <command>` (the pinned Node): what V8 made of the launcher's flags for that command. */
function probe(script: string): (command: string) => string {
  const root = tree({ node: true });
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist', 'cli.js'), script);
  return (command) => spawnSync(join(root, 'bin', 'rapport'), [command], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' }).stdout;
}

describe('bin/rapport', () => {
  it('runs dist/cli.js on the pinned Node 22 when there is a build, passing the arguments', () => {
    const r = run(tree({ node: true, dist: true }));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^dist v22\.\d+\.\d+ demo --once\n$/);
    expect(r.status).toBe(0);
  });

  it('runs the source through tsx without a build, or with RAPPORT_FROM_SOURCE=1', () => {
    expect(run(tree({ node: true, tsx: true })).stdout).toMatch(/^source v22\./);
    const both = tree({ node: true, dist: true, tsx: true });
    expect(run(both, { RAPPORT_FROM_SOURCE: '1' }).stdout).toMatch(/^source v22\./);
  });

  it('in a development tree whose source changed since the build, runs the build but says so', () => {
    const root = tree({ node: true, dist: true, tsx: true });
    utimesSync(join(root, 'dist', 'cli.js'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const r = run(root);
    expect(r.stdout).toMatch(/^dist v22\./);
    expect(r.stderr).toContain('src/ changed since dist/ was built');
    utimesSync(join(root, 'dist', 'cli.js'), new Date(), new Date(Date.now() + 60_000));
    expect(run(root).stderr).toBe('');
  });

  it('without a build or tsx (a pruned tree that was never built) exits 3 saying to build', () => {
    const r = run(tree({ node: true }));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("run 'npm run build' (before 'npm prune --omit=dev')");
    expect(r.stdout).toBe('');
  });

  it('without the pinned Node exits 3 saying to run npm ci', () => {
    const r = run(tree({ dist: true }));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("Node 22 not found");
    expect(r.stderr).toContain("run 'npm ci'");
  });

  it('gives serve and worker a young generation of at least 16 MB a semi-space, and no other command', () => {
    // what V8 made of the flags, not the command line: the new space's capacity at start (one semi-space)
    const stdout = probe("import v8 from 'node:v8'; console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20);\n");
    const newSpaceMb = (command: string) => Number(stdout(command));
    expect(newSpaceMb('serve')).toBe(16);
    expect(newSpaceMb('worker')).toBe(16);
    // V8's default: 1 MB
    expect(newSpaceMb('status')).toBeLessThan(16);
  });

  it('gives serve one V8 helper thread instead of four and its GC on the serving thread, and worker and the other commands the defaults', () => {
    // what V8 made of the pool size: the process's threads at start (Linux), the platform's helpers
    // among them; the GC flag has no such trace, so its presence among the process's flags
    const stdout = probe(
      "import { readdirSync } from 'node:fs'; console.log(JSON.stringify({ threads: readdirSync('/proc/self/task').length, singleThreadedGc: process.execArgv.includes('--single-threaded-gc') }));\n",
    );
    const v8Of = (command: string) => JSON.parse(stdout(command)) as { threads: number; singleThreadedGc: boolean };
    const usual = v8Of('status');
    expect(usual).toMatchObject({ singleThreadedGc: false });
    expect(usual.threads).toBeGreaterThan(4);
    expect(v8Of('worker')).toEqual(usual);
    expect(v8Of('serve')).toEqual({ threads: usual.threads - 3, singleThreadedGc: true });
  });

  it('through a symlink (node_modules/.bin/rapport) finds its own tree', () => {
    const root = tree({ node: true, dist: true });
    const link = tempDir('rapport-link-');
    dirs.push(link);
    symlinkSync(join(root, 'bin', 'rapport'), join(link.path, 'rapport'));
    const r = spawnSync(join(link.path, 'rapport'), ['status'], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(r.stdout).toMatch(/^dist v22\.\d+\.\d+ status\n$/);
  });
});
