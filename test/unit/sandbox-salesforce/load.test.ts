import { describe, expect, it } from 'vitest';
import { createClock } from '../../../src/sandbox/hubspot/clock.ts';
import { createLiveActivity, generateAccount } from '../../../src/sandbox/generator/index.ts';
import type { SandboxObject } from '../../../src/sandbox/model.ts';
import { createSalesforceSandbox } from '../../../src/sandbox/salesforce/index.ts';

const NOW = Date.UTC(2026, 0, 5, 9);

describe('generator → Salesforce org', () => {
  it('maps every generated object, keeps its timestamps, and links records by Salesforce id', () => {
    const sandbox = createSalesforceSandbox({ clock: createClock({ frozenAt: NOW }) });
    const objects: SandboxObject[] = [];
    for (const batch of generateAccount({ seed: 4, contacts: 25, now: NOW })) {
      sandbox.loader.load(batch);
      objects.push(...batch.objects);
    }
    const deal = objects.find((o) => o.type === 'deals' && o.properties.dealstage === 'closedwon')!;
    const opp = sandbox.data.get('Opportunity', sandbox.loader.idOf('deals', deal.id)!)!;
    expect(opp).toMatchObject({ StageName: 'Closed Won', IsWon: true, IsClosed: true, CloseDate: deal.properties.closedate!.slice(0, 10) });
    // Salesforce stamps are whole seconds
    expect(opp.SystemModstamp).toBe(Math.floor(deal.updatedAt / 1000) * 1000);
    const roles = sandbox.data.rows('OpportunityContactRole').filter((r) => r.OpportunityId === opp.Id);
    expect(roles.length).toBeGreaterThan(0);
    expect(roles.every((r) => typeof r.ContactId === 'string' && (r.ContactId as string).startsWith('003'))).toBe(true);

    const survey = objects.find((o) => o.type === 'feedback_submissions')!;
    const sr = sandbox.data.get('Survey_Response__c', sandbox.loader.idOf('feedback_submissions', survey.id)!)!;
    expect(sr).toMatchObject({ Type__c: survey.properties.hs_survey_type, Score__c: survey.properties.hs_value });
    expect((sr.Contact__c as string).startsWith('003')).toBe(true);

    const email = objects.find((o) => o.type === 'emails' && o.properties.hs_email_direction === 'INCOMING_EMAIL')!;
    const em = sandbox.data.get('EmailMessage', sandbox.loader.idOf('emails', email.id)!)!;
    expect(em.Incoming).toBe(true);
    expect(sandbox.data.rows('EmailMessageRelation').some((r) => r.EmailMessageId === em.Id && r.RelationType === 'FromAddress')).toBe(true);

    const liveCount = (type: 'contacts' | 'companies') => objects.filter((o) => o.type === type && !o.archived).length;
    expect(sandbox.data.count('Contact')).toBe(liveCount('contacts'));
    expect(sandbox.data.count('Account')).toBe(liveCount('companies'));
  });

  it('live activity (the demo) lands on contacts loaded by earlier batches', () => {
    const clock = createClock({ frozenAt: NOW });
    const sandbox = createSalesforceSandbox({ clock });
    for (const batch of generateAccount({ seed: 4, contacts: 10, now: NOW })) sandbox.loader.load(batch);
    const live = createLiveActivity({ seed: 4, now: NOW });
    const before = sandbox.data.rows('Task').length + sandbox.data.rows('EmailMessage').length + sandbox.data.rows('Event').length + sandbox.data.rows('Case').length + sandbox.data.rows('Survey_Response__c').length;
    for (let i = 0; i < 8; i++) {
      clock.advance(60_000);
      sandbox.loader.load(live.next(sandbox.loader.contactIds(), clock.now()));
    }
    const after = sandbox.data.rows('Task').length + sandbox.data.rows('EmailMessage').length + sandbox.data.rows('Event').length + sandbox.data.rows('Case').length + sandbox.data.rows('Survey_Response__c').length;
    expect(after).toBeGreaterThanOrEqual(before + 8);
    const fresh = [...sandbox.data.rows('Task'), ...sandbox.data.rows('Case'), ...sandbox.data.rows('Survey_Response__c')].filter((r) => (r.CreatedDate as number) > NOW);
    const contactOf = (r: Record<string, unknown>) => (r.WhoId ?? r.ContactId ?? r.Contact__c) as string | null | undefined;
    expect(fresh.length).toBeGreaterThan(0);
    for (const r of fresh) expect(sandbox.data.get('Contact', contactOf(r)!)).toBeDefined();
  });
});
