/**
 * Which card bundle the preview serves: the build's dist/preview/card.js when running the build
 * (production has no esbuild), a fresh esbuild bundle of the card's source otherwise.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hubspotCardPreview } from '../../../src/connectors/hubspot/card-preview.ts';
import { loadPreviewBundle, PREBUILT_BUNDLE } from '../../../src/server/preview.ts';
import { tempDir } from '../../support/temp-dir.ts';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('the card preview bundle', () => {
  it('running the build, is the file npm run build wrote (no bundling at run time)', async () => {
    const prebuilt = join(dir.path, 'card.js');
    writeFileSync(prebuilt, '/* built ahead */ export {};\n');
    expect(await loadPreviewBundle({ runningBuild: true, prebuilt })).toBe('/* built ahead */ export {};\n');
  });

  it('running the build without that file, is an error that says to build, not a bundle attempt', async () => {
    const prebuilt = join(dir.path, 'missing', 'card.js');
    await expect(loadPreviewBundle({ runningBuild: true, prebuilt })).rejects.toThrow(`the card preview bundle ${prebuilt} is missing (ENOENT): run "npm run build"`);
  });

  it('the built server looks for it in dist/preview/, beside dist/server/', () => {
    // from source this resolves to src/preview/card.js, which never exists: source mode bundles
    expect(PREBUILT_BUNDLE).toBe(join(import.meta.dirname, '..', '..', '..', 'src', 'preview', 'card.js'));
  });

  it('from source, is the card bundled now from its TypeScript', async () => {
    const js = await loadPreviewBundle({ card: hubspotCardPreview(), runningBuild: false, prebuilt: join(dir.path, 'card.js') });
    expect(js).toContain('Rescore now');
    expect(js).not.toContain('built ahead');
  });
});
