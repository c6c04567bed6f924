import { fileURLToPath } from 'node:url';

/** The contract's source (server) and its generated copy inside the HubSpot project (card). */
export const CONTRACT_SOURCE = fileURLToPath(new URL('../../../src/server/card-contract.ts', import.meta.url));
export const CONTRACT_COPY = fileURLToPath(new URL('../src/app/cards/card-contract.ts', import.meta.url));

const HEADER =
  '// GENERATED from src/server/card-contract.ts by ui-extension/hubspot/scripts/sync-contract.ts: do not edit here.\n' +
  '// (HubSpot uploads only this project folder, so the card cannot import the server file directly.)\n';

/** What the card's copy must contain for a given source text. */
export function contractCopyText(source: string): string {
  return HEADER + source;
}
