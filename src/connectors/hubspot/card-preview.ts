/**
 * The HubSpot card's UI project, for the local card preview (src/server/preview.ts): the card in
 * ui-extension/hubspot imports `@hubspot/ui-extensions`, which only runs inside HubSpot's
 * sandboxed iframe (https://developers.hubspot.com/docs/platform/ui-extensions-sdk); the preview
 * swaps it for a small DOM implementation (ui-extension/hubspot/preview/ui-extensions-dom.tsx)
 * and bundles the same ScoreCard.tsx with react-dom.
 */
import { fileURLToPath } from 'node:url';
import type { CardPreviewSource } from '../provider.ts';

const PROJECT_DIR = fileURLToPath(new URL('../../../ui-extension/hubspot/', import.meta.url));

/** `projectDir`: the HubSpot project folder (default: ui-extension/hubspot of this repository). */
export function hubspotCardPreview(projectDir: string = PROJECT_DIR): CardPreviewSource {
  const dir = projectDir.replace(/\/+$/, '');
  return {
    entry: `${dir}/preview/main.tsx`,
    packagesDir: `${dir}/src/app/cards`,
    uiModule: '@hubspot/ui-extensions',
    uiModuleDom: `${dir}/preview/ui-extensions-dom.tsx`,
  };
}
