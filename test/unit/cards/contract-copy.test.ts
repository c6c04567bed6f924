/** The card's copy of the contract is the server's, byte for byte (HubSpot uploads only the project folder). */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CONTRACT_COPY, CONTRACT_SOURCE, contractCopyText } from '../../../ui-extension/hubspot/scripts/contract-copy.ts';

it('ui-extension/hubspot/src/app/cards/card-contract.ts is the generated copy of src/server/card-contract.ts', () => {
  const expected = contractCopyText(readFileSync(CONTRACT_SOURCE, 'utf8'));
  expect(readFileSync(CONTRACT_COPY, 'utf8'), 'run: npx tsx ui-extension/hubspot/scripts/sync-contract.ts').toBe(expected);
  expect(expected).not.toBe(contractCopyText(''));
});
