/**
 * The browser the browser tests use (./chromium.ts): found without anything but `npm ci`, and
 * every way of not having one is a loud error, never a skip.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumOnPath, findChromium, launchChromium, unpackPackagedChromium } from './chromium.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rapport-chromium-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An executable that is not a browser: prints a line and exits 1. */
function fakeBrowser(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho "not a browser" >&2\nexit 1\n');
  chmodSync(path, 0o755);
  return path;
}

describe('finding Chromium', () => {
  it('RAPPORT_CHROMIUM naming no file is an error, not a fallback to another browser', async () => {
    await expect(findChromium({ RAPPORT_CHROMIUM: '/nonexistent/chromium', PATH: '' })).rejects.toThrow('RAPPORT_CHROMIUM=/nonexistent/chromium: no such file');
  });

  it('RAPPORT_CHROMIUM naming a file that is not executable is an error', async () => {
    const path = join(tempDir(), 'chromium');
    writeFileSync(path, 'not a program');
    await expect(findChromium({ RAPPORT_CHROMIUM: path, PATH: '' })).rejects.toThrow('not executable');
  });

  it('a broken browser fails to launch with an error naming where it came from', async () => {
    const path = fakeBrowser(tempDir(), 'chromium');
    const found = await findChromium({ RAPPORT_CHROMIUM: path, PATH: '' });
    expect(found).toEqual({ executablePath: path, source: 'RAPPORT_CHROMIUM' });
    await expect(launchChromium(found)).rejects.toThrow(`Chromium (RAPPORT_CHROMIUM: ${path}) did not start`);
  });

  it('a system Chromium on PATH comes before the packaged one', async () => {
    const dir = tempDir();
    const path = fakeBrowser(dir, 'chromium-browser');
    expect(chromiumOnPath(`/nonexistent:${dir}`)).toBe(path);
    expect(await findChromium({ PATH: `/nonexistent:${dir}` })).toEqual({ executablePath: path, source: 'PATH' });
  });

  it('with neither, the Chromium shipped in @sparticuz/chromium is unpacked once and runs headless', async () => {
    const base = tempDir();
    const binary = await unpackPackagedChromium(base);
    expect(binary.startsWith(join(base, 'rapport-chromium-'))).toBe(true);
    expect(existsSync(binary)).toBe(true);
    // a complete unpack is reused, and no staging directory is left behind
    expect(await unpackPackagedChromium(base)).toBe(binary);
    expect(readdirSync(base).filter((n) => n.includes('.staging-'))).toEqual([]);

    const found = await findChromium({ PATH: '/nonexistent' });
    expect(found.source).toBe('@sparticuz/chromium');
    const browser = await launchChromium(found);
    try {
      expect(browser.version()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const page = await browser.newPage();
      await page.setContent('<p id="p">Rapport <b>card</b></p>');
      expect(await page.locator('#p').innerText()).toBe('Rapport card');
    } finally {
      await browser.close();
    }
  });
});
