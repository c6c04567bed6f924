import { connectorContract } from './connector-contract.ts';
import { hubspotHarness } from './hubspot-harness.ts';

connectorContract('hubspot (sandbox over HTTP)', () => hubspotHarness());
// HubSpot's search index trails writes (reportedly up to ~30 s): the same contract with a 25 s lag,
// each sync starting once the lag has passed (issue 13)
connectorContract('hubspot (sandbox over HTTP, 25 s search index lag)', () => hubspotHarness({}, { searchLagMs: 25_000 }));
