/**
 * Copies the card API contract from the server into the HubSpot project.
 * Run from the repository root: `npx tsx ui-extension/hubspot/scripts/sync-contract.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CONTRACT_COPY, CONTRACT_SOURCE, contractCopyText } from './contract-copy.ts';

writeFileSync(CONTRACT_COPY, contractCopyText(readFileSync(CONTRACT_SOURCE, 'utf8')));
console.log(`wrote ${CONTRACT_COPY}`);
