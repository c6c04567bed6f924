import { connectorContract } from './connector-contract.ts';
import { salesforceHarness } from './salesforce-harness.ts';

connectorContract('salesforce (jsforce against the emulator over HTTP)', () => salesforceHarness());
