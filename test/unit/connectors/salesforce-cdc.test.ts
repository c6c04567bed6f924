import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { streamsOfEntity } from '../../../src/connectors/salesforce/cdc.ts';
import { silentLogger } from '../../../src/log.ts';
import { createRapport } from '../../../src/main.ts';
import { tempDir } from '../../support/temp-dir.ts';

describe('Salesforce change events → Rapport streams', () => {
  it('maps each CDC entity onto the streams read from it, child relations included', () => {
    expect(streamsOfEntity('Contact')).toEqual(['contacts']);
    expect(streamsOfEntity('Account')).toEqual(['companies']);
    expect(streamsOfEntity('Opportunity')).toEqual(['deals']);
    // a contact role changes which contacts a deal belongs to
    expect(streamsOfEntity('OpportunityContactRole')).toEqual(['deals']);
    expect(streamsOfEntity('Case')).toEqual(['tickets']);
    // Tasks are calls, notes and to-dos (and emails in orgs without Enhanced Email)
    expect(streamsOfEntity('Task').sort()).toEqual(['calls', 'emails', 'notes', 'tasks']);
    expect(streamsOfEntity('Event')).toEqual(['meetings']);
    expect(streamsOfEntity('EmailMessage')).toEqual(['emails']);
    expect(streamsOfEntity('Survey_Response__c')).toEqual(['feedback_submissions']);
  });

  it('names no stream for an entity Rapport does not read, whatever its name', () => {
    expect(streamsOfEntity('Lead')).toEqual([]);
    expect(streamsOfEntity('__proto__')).toEqual([]);
    expect(streamsOfEntity('constructor')).toEqual([]);
  });
});

describe('Salesforce CDC settings', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const load = (env: Record<string, string>) => loadConfig({ RAPPORT_DB: join(dir.path, 'r.db'), ...env }, '/nonexistent.json');

  it('is on by default and polls every 15 minutes while live; both configurable', () => {
    expect(load({}).salesforce).toMatchObject({ cdc: true, cdcPollIntervalMs: 900_000 });
    expect(load({ SALESFORCE_CDC: 'false', SALESFORCE_CDC_POLL_INTERVAL_MS: '300000' }).salesforce).toMatchObject({ cdc: false, cdcPollIntervalMs: 300_000 });
  });

  it('refuses a poll interval under a minute, or a flag that is not one, with a clear message', () => {
    expect(() => load({ SALESFORCE_CDC_POLL_INTERVAL_MS: '5000' })).toThrow(/SALESFORCE_CDC_POLL_INTERVAL_MS must be at least 60000/);
    expect(() => load({ SALESFORCE_CDC: 'sometimes' })).toThrow(/SALESFORCE_CDC must be true or false/);
  });

  it('SALESFORCE_CDC=false starts no subscription: the org is polled as before', async () => {
    const config = load({ SALESFORCE_CDC: 'false', RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    const rapport = await createRapport({ config, logger: silentLogger, changeStreams: true });
    try {
      // nothing listens on this address: a subscription would only fail, never be undefined
      await rapport.addPortal({ portal: 'salesforce:00D000000000001AAA', crm: 'salesforce', externalId: '00D000000000001AAA', baseUrl: 'http://127.0.0.1:9', scopes: [] }, { accessToken: async () => 'at' });
      expect(rapport.changeStream('salesforce:00D000000000001AAA')).toBeUndefined();
    } finally {
      await rapport.close();
    }
  });

  it('on by default: a subscription that is not live leaves the polling as it was', async () => {
    const config = load({ RAPPORT_DB: join(dir.path, 'on.db'), RAPPORT_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    const rapport = await createRapport({ config, logger: silentLogger, changeStreams: true });
    try {
      await rapport.addPortal({ portal: 'salesforce:00D000000000001AAA', crm: 'salesforce', externalId: '00D000000000001AAA', baseUrl: 'http://127.0.0.1:9', scopes: [] }, { accessToken: async () => 'at' });
      const stream = rapport.changeStream('salesforce:00D000000000001AAA');
      expect(stream).toBeDefined();
      expect(stream!.status().state).not.toBe('live');
      expect(stream!.pollEveryMs()).toBeUndefined();
    } finally {
      await rapport.close();
    }
  });
});
