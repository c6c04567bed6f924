import { describe, expect, it } from 'vitest';
import { streamsOfEntity } from '../../../src/connectors/salesforce/cdc.ts';

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
