import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isDatabaseBusy } from '../../src/commands/process-guards.ts';
import { ROOT } from '../support/cli.ts';

/**
 * Issue 15 item 4: errors escaping background work in `rapport serve`. Run in a child process
 * (the guards are process-wide, and the test runner has its own uncaughtException handler).
 */
const SCRIPT = `
import { installProcessGuards } from ${JSON.stringify(join(ROOT, 'src', 'commands', 'process-guards.ts'))};
const log = (level) => (fields, msg) => console.log(JSON.stringify({ level, msg, ...fields }));
installProcessGuards({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child() { return this; } }, (reason) => {
  console.log('FATAL ' + reason);
  process.exit(9);
});
setImmediate(() => { const e = new Error('database is locked'); e.code = 'SQLITE_BUSY'; throw e; });
setTimeout(() => void Promise.reject(new Error('lost promise')), 20);
setTimeout(() => { console.log('STILL SERVING'); throw new TypeError('boom'); }, 80);
setTimeout(() => console.log('NOT REACHED'), 5000);
`;

describe('process guards', () => {
  it('keeps serving after a locked database or a lost promise, stops with the reason on anything else', () => {
    const node = join(ROOT, 'node_modules', 'node', 'bin', 'node');
    const r = spawnSync(node, ['--import', join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs'), '--input-type=module', '-e', SCRIPT], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stdout).toContain('"msg":"database locked by another process during background work; still serving","err":"Error: database is locked"');
    expect(r.stdout).toContain('unhandled promise rejection; still serving');
    expect(r.stdout).toContain('Error: lost promise');
    expect(r.stdout).toContain('STILL SERVING');
    expect(r.stdout).toContain('FATAL TypeError: boom');
    expect(r.stdout).not.toContain('NOT REACHED');
    expect(r.status).toBe(9);
  });

  it('recognises SQLite busy and locked codes only', () => {
    expect(isDatabaseBusy(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe(true);
    expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_LOCKED_SHAREDCACHE' }))).toBe(true);
    expect(isDatabaseBusy(Object.assign(new Error('x'), { code: 'SQLITE_CORRUPT' }))).toBe(false);
    expect(isDatabaseBusy(new Error('database is locked'))).toBe(false);
    expect(isDatabaseBusy(null)).toBe(false);
  });
});
