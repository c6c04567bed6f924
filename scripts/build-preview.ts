/**
 * `npm run build`, last step: the card preview's browser bundle, built ahead of time into
 * dist/preview/card.js, which the built server reads (src/server/preview.ts: loadPreviewBundle):
 * production has neither esbuild nor the card's react-dom installed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hubspotCardPreview } from '../src/connectors/hubspot/card-preview.ts';
import { bundlePreview } from '../src/server/preview.ts';

const out = join(import.meta.dirname, '..', 'dist', 'preview', 'card.js');
const js = await bundlePreview(hubspotCardPreview());
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, js);
process.stdout.write(`card preview bundle: ${out} (${Math.round(js.length / 1024)} KiB)\n`);
