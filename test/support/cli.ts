import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../src/cli.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Runs `rapport …` in this process (fast), capturing its output. */
export async function rapportInProcess(args: string[], env: Record<string, string>, signal = new AbortController().signal) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: false,
    env: { RAPPORT_CONFIG: '/nonexistent/rapport.config.json', RAPPORT_LOG_LEVEL: 'silent', ...env },
    signal,
  });
  return { code, stdout, stderr };
}

/**
 * Starts `bin/rapport …` as a child process (what an operator runs), for kill/exit-code tests.
 * From source, like every other test, even where `npm run build` left a dist/ (which may be older
 * than the source; scripts/production-check.sh tests the build).
 */
export function rapportChild(args: string[], env: Record<string, string>) {
  const child = spawn(join(ROOT, 'bin', 'rapport'), args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', RAPPORT_CONFIG: '/nonexistent/rapport.config.json', RAPPORT_LOG_LEVEL: 'warn', RAPPORT_FROM_SOURCE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, sig) => resolve({ code, signal: sig, stdout, stderr })),
  );
  return { child, done };
}
