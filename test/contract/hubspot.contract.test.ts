import { connectorContract } from './connector-contract.ts';
import { hubspotHarness } from './hubspot-harness.ts';

connectorContract('hubspot (sandbox over HTTP)', () => hubspotHarness());
