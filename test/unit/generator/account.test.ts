import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateAccount } from '../../../src/sandbox/generator/index.ts';
import { associationTypeInfo } from '../../../src/sandbox/hubspot/association-types.ts';
import type { GeneratedBatch, SandboxObject } from '../../../src/sandbox/model.ts';

const NOW = Date.UTC(2026, 0, 15, 12);

function digest(batches: Iterable<GeneratedBatch>): string {
  const hash = createHash('sha256');
  for (const batch of batches) hash.update(JSON.stringify(batch));
  return hash.digest('hex');
}

const all = (seed: number, contacts: number, messiness?: number): GeneratedBatch[] => [
  ...generateAccount({ seed, contacts, now: NOW, ...(messiness === undefined ? {} : { messiness }) }),
];

/** Properties whose values are points in time (ISO datetimes on the wire). */
const TIME_PROPERTIES = new Set([
  'createdate', 'hs_createdate', 'lastmodifieddate', 'hs_lastmodifieddate', 'closedate', 'closed_date', 'hs_timestamp',
  'hs_meeting_start_time', 'hs_meeting_end_time', 'hs_submission_timestamp',
]);

describe('generateAccount: determinism', () => {
  it('gives byte-identical output for the same seed, and different output for another seed', () => {
    const a = digest(generateAccount({ seed: 11, contacts: 700, now: NOW }));
    const b = digest(generateAccount({ seed: 11, contacts: 700, now: NOW }));
    const c = digest(generateAccount({ seed: 12, contacts: 700, now: NOW }));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('keeps the first batch identical whatever the account size (each batch has its own stream)', () => {
    const [small] = generateAccount({ seed: 5, contacts: 800, now: NOW });
    const [large] = generateAccount({ seed: 5, contacts: 3_000, now: NOW });
    expect(JSON.stringify(large)).toBe(JSON.stringify(small));
  });

  it('refuses a nonsensical size or time', () => {
    expect(() => [...generateAccount({ seed: 1, contacts: -1, now: NOW })]).toThrow(/contacts/);
    expect(() => [...generateAccount({ seed: 1, contacts: 1.5, now: NOW })]).toThrow(/contacts/);
    expect(() => [...generateAccount({ seed: 1, contacts: 3, now: Number.NaN })]).toThrow(/now/);
    expect([...generateAccount({ seed: 1, contacts: 0, now: NOW })]).toEqual([]);
  });
});

describe('generateAccount: shape and integrity', () => {
  const batches = all(3, 1_500);
  const objects = batches.flatMap((b) => b.objects);
  const byType = (type: string) => objects.filter((o) => o.type === type);

  it('makes exactly the contacts asked for, in bounded batches, with truth for every non-duplicate', () => {
    expect(byType('contacts')).toHaveLength(1_500);
    for (const batch of batches) {
      const contacts = batch.objects.filter((o) => o.type === 'contacts').length;
      expect(contacts).toBeLessThanOrEqual(500 + 12); // a batch closes after the company that crosses 500
    }
    const truthIds = new Set(batches.flatMap((b) => b.truth.map((t) => t.contactId)));
    const contactIds = new Set(byType('contacts').map((o) => o.id));
    for (const id of truthIds) expect(contactIds.has(id)).toBe(true);
    expect(truthIds.size).toBeGreaterThan(1_500 * 0.95);
    for (const type of ['companies', 'deals', 'tickets', 'calls', 'emails', 'meetings', 'notes', 'tasks', 'feedback_submissions']) {
      expect(byType(type).length, type).toBeGreaterThan(50);
    }
  });

  it('gives unique ids per type, hs_object_id = id, string values, and sane created/updated times', () => {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const o of objects) {
      const key = `${o.type}/${o.id}`;
      if (seen.has(key)) problems.push(`${key} repeated`);
      seen.add(key);
      if (o.properties['hs_object_id'] !== o.id) problems.push(`${key} hs_object_id`);
      if (!Object.values(o.properties).every((v) => v === null || typeof v === 'string')) problems.push(`${key} non-string value`);
      if (!(o.createdAt <= o.updatedAt && o.updatedAt <= NOW)) problems.push(`${key} createdAt/updatedAt`);
      if (o.archived) problems.push(`${key} archived`);
    }
    expect(problems).toEqual([]);
  });

  it('associates within the batch, with HubSpot type ids, the way the contract says', () => {
    for (const batch of batches) {
      const ids = new Set(batch.objects.map((o) => `${o.type}/${o.id}`));
      const linked = new Map<string, Set<string>>();
      const problems: string[] = [];
      for (const a of batch.associations) {
        if (!ids.has(`${a.fromType}/${a.fromId}`)) problems.push(`dangling ${a.fromType}/${a.fromId}`);
        if (!ids.has(`${a.toType}/${a.toId}`)) problems.push(`dangling ${a.toType}/${a.toId}`);
        if (!associationTypeInfo(a.fromType, a.toType, a.typeId)) problems.push(`${a.fromType}→${a.toType} #${a.typeId}`);
        const set = linked.get(`${a.fromType}/${a.fromId}`) ?? new Set<string>();
        set.add(a.toType);
        linked.set(`${a.fromType}/${a.fromId}`, set);
        const back = linked.get(`${a.toType}/${a.toId}`) ?? new Set<string>();
        back.add(a.fromType);
        linked.set(`${a.toType}/${a.toId}`, back);
      }
      for (const o of batch.objects) {
        const to = linked.get(`${o.type}/${o.id}`) ?? new Set<string>();
        const needs = o.type === 'contacts' ? ['companies'] : o.type === 'deals' || o.type === 'tickets' ? ['contacts', 'companies'] : ['contacts'];
        for (const type of needs) if (!to.has(type)) problems.push(`${o.type}/${o.id} not linked to ${type}`);
      }
      expect(problems).toEqual([]);
      // Each contact has exactly one primary company (type 1) next to the unlabeled one (279).
      const primaries = batch.associations.filter((a) => a.fromType === 'contacts' && a.toType === 'companies' && a.typeId === 1);
      expect(primaries.length).toBe(batch.objects.filter((o) => o.type === 'contacts').length);
    }
  });

  it('uses the real property names and values (https://developers.hubspot.com/docs/api/crm/properties)', () => {
    const won = byType('deals').filter((d) => d.properties['dealstage'] === 'closedwon');
    expect(won.length).toBeGreaterThan(1_000);
    for (const d of won) {
      expect(d.properties['hs_is_closed_won']).toBe('true');
      expect(d.properties['amount']).toMatch(/^(\d+\.\d{2}|TBD)$/);
      expect(d.properties['closedate']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const closedTickets = byType('tickets').filter((t) => t.properties['hs_pipeline_stage'] === '4');
    expect(closedTickets.length).toBeGreaterThan(100);
    for (const t of closedTickets) {
      expect(Number(t.properties['time_to_close'])).toBe(Date.parse(t.properties['closed_date'] ?? '') - Date.parse(t.properties['createdate'] ?? ''));
      expect(t.properties['reopen_count']).toMatch(/^\d+$/);
      expect(['LOW', 'MEDIUM', 'HIGH', 'URGENT']).toContain(t.properties['hs_ticket_priority']);
    }
    expect(closedTickets.some((t) => Number(t.properties['reopen_count']) > 0)).toBe(true);
    const surveys = byType('feedback_submissions');
    const values = (type: string) => surveys.filter((s) => s.properties['hs_survey_type'] === type).map((s) => s.properties['hs_value']);
    expect(new Set(values('NPS').filter((v) => /^\d+$/.test(v ?? '')).map(Number)).size).toBe(11); // 0 … 10 all occur
    for (const v of values('CSAT')) expect(Number(v)).toBeGreaterThanOrEqual(1);
    for (const v of values('CSAT')) expect(Number(v)).toBeLessThanOrEqual(5);
    for (const v of values('CES')) expect(Number(v)).toBeLessThanOrEqual(7);
    expect(values('CES').length).toBeGreaterThan(10);
    const calls = byType('calls');
    expect(calls.some((c) => Number(c.properties['hs_call_duration']) > 60_000)).toBe(true); // milliseconds
    const directions = new Set(byType('emails').map((e) => e.properties['hs_email_direction']));
    expect([...directions].sort()).toEqual(['EMAIL', 'INCOMING_EMAIL']);
    expect(new Set(byType('meetings').map((m) => m.properties['hs_meeting_outcome'])).size).toBeGreaterThanOrEqual(3);
  });

  it('puts no event after now (only an open deal’s expected closedate and a few garbage closedates may be later)', () => {
    const later: string[] = [];
    for (const o of objects) {
      expect(o.createdAt).toBeLessThanOrEqual(NOW);
      for (const [key, value] of Object.entries(o.properties)) {
        if (!TIME_PROPERTIES.has(key) || value === null) continue;
        const at = Date.parse(value);
        expect(Number.isNaN(at), `${o.type}.${key}=${value}`).toBe(false);
        if (at <= NOW) continue;
        const openDeal = o.type === 'deals' && key === 'closedate' && o.properties['hs_is_closed'] === 'false';
        if (!openDeal) later.push(`${o.type}.${key}.${o.properties['dealstage'] ?? ''}`);
      }
    }
    // the garbage: a closed-won deal's closedate typed 20 years off (params.ts MESSINESS.futureClosedate)
    expect(new Set(later)).toEqual(new Set(later.length > 0 ? ['deals.closedate.closedwon'] : []));
    expect(later.length).toBeLessThan(15);
  });

  it('writes a truth whose probabilities match its own realised draws', () => {
    const truth = batches.flatMap((b) => b.truth);
    let churnP = 0, churned = 0, ticketP = 0, tickets = 0;
    for (const t of truth) {
      for (const v of [t.satisfaction, t.dropoutProbability, t.pAlive, t.churnProbability90d, t.ticketProbability30d]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(t.purchaseRate).toBeGreaterThan(0);
      expect(t.churnProbability90d).toBeGreaterThanOrEqual(1 - t.pAlive - 1e-12);
      churnP += t.churnProbability90d;
      churned += t.churnedNext90d ? 1 : 0;
      ticketP += t.ticketProbability30d;
      tickets += t.ticketNext30d ? 1 : 0;
    }
    // Sums of independent Bernoulli draws: within ~4 standard deviations of their expectation.
    expect(Math.abs(churned - churnP)).toBeLessThan(4 * Math.sqrt(churnP));
    expect(Math.abs(tickets - ticketP)).toBeLessThan(4 * Math.sqrt(ticketP));
    // … and per band: the probability ranks customers, it is not just right on average.
    const band = (lo: number, hi: number) => {
      const rows = truth.filter((t) => t.churnProbability90d >= lo && t.churnProbability90d < hi);
      return { n: rows.length, rate: rows.filter((t) => t.churnedNext90d).length / rows.length };
    };
    const low = band(0, 0.2);
    const high = band(0.8, 1.01);
    expect(low.n).toBeGreaterThan(100);
    expect(high.n).toBeGreaterThan(100);
    expect(low.rate).toBeLessThan(0.25);
    expect(high.rate).toBeGreaterThan(0.75);
    expect(churned / truth.length).toBeGreaterThan(0.1); // there is churn to predict …
    expect(churned / truth.length).toBeLessThan(0.9); // … and customers who stay
    expect(new Set(truth.map((t) => t.preferredChannel)).size).toBe(4);
  });
});

describe('generateAccount: observables follow the latent truth', () => {
  const batches = all(13, 3_000, 0);
  const satisfaction = new Map(batches.flatMap((b) => b.truth.map((t) => [t.contactId, t.satisfaction] as const)));
  const surveys = batches.flatMap((b) => {
    const contactOf = new Map(b.associations.filter((a) => a.fromType === 'feedback_submissions' && a.toType === 'contacts').map((a) => [a.fromId, a.toId]));
    return b.objects
      .filter((o) => o.type === 'feedback_submissions')
      .map((o) => ({ props: o.properties, sat: satisfaction.get(contactOf.get(o.id) ?? '') ?? Number.NaN }));
  });

  it('NPS answers rise with latent satisfaction', () => {
    const pairs = surveys.filter((s) => s.props['hs_survey_type'] === 'NPS').map((s) => [s.sat, Number(s.props['hs_value'])] as const);
    expect(pairs.length).toBeGreaterThan(1_000);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const mx = mean(pairs.map((p) => p[0]));
    const my = mean(pairs.map((p) => p[1]));
    const cov = mean(pairs.map(([x, y]) => (x - mx) * (y - my)));
    const sd = (xs: number[], m: number) => Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
    expect(cov / (sd(pairs.map((p) => p[0]), mx) * sd(pairs.map((p) => p[1]), my))).toBeGreaterThan(0.6);
  });

  it('comment tone follows latent satisfaction', () => {
    const positive = /great|love|easy/i;
    const negative = /disappointed|terrible|bugs/i;
    const share = (rows: typeof surveys, re: RegExp) => rows.filter((r) => re.test(r.props['hs_content'] ?? '')).length / rows.length;
    const commented = surveys.filter((s) => s.props['hs_content']);
    const happy = commented.filter((s) => s.sat > 0.8);
    const unhappy = commented.filter((s) => s.sat < 0.45);
    expect(happy.length).toBeGreaterThan(100);
    expect(unhappy.length).toBeGreaterThan(50);
    expect(share(happy, positive)).toBeGreaterThan(2 * share(unhappy, positive));
    expect(share(unhappy, negative)).toBeGreaterThan(2 * share(happy, negative));
  });
});

describe('generateAccount: messiness', () => {
  const messy = all(9, 3_000).flatMap((b) => b.objects);
  const clean = all(9, 3_000, 0).flatMap((b) => b.objects);
  const contactsOf = (objects: SandboxObject[]) => objects.filter((o) => o.type === 'contacts');

  it('has ~2 % duplicate contacts that differ only in email case or whitespace', () => {
    const contacts = contactsOf(messy);
    const byKey = new Map<string, string[]>();
    for (const c of contacts) {
      const email = c.properties['email'];
      if (!email) continue;
      const key = email.trim().toLowerCase();
      byKey.set(key, [...(byKey.get(key) ?? []), email]);
    }
    const groups = [...byKey.values()].filter((g) => g.length > 1);
    expect(groups.length / contacts.length).toBeGreaterThan(0.01);
    expect(groups.length / contacts.length).toBeLessThan(0.035);
    for (const g of groups) expect(new Set(g).size).toBe(g.length); // the raw emails differ
    const cleanKeys = new Set(contactsOf(clean).map((c) => c.properties['email']?.trim().toLowerCase()));
    expect(cleanKeys.size).toBe(contactsOf(clean).length);
  });

  it('has odd phone formats, missing fields and a few garbage values; a clean account has none', () => {
    const phones = contactsOf(messy).map((c) => c.properties['phone']).filter((p): p is string => typeof p === 'string');
    expect(phones.some((p) => /^\(\d{3}\) \d{3}-\d{4}$/.test(p))).toBe(true);
    expect(phones.some((p) => /^\+1 \d{3}\.\d{3}\.\d{4}$/.test(p))).toBe(true);
    expect(phones).toContain('n/a');
    expect(contactsOf(messy).some((c) => !('lastname' in c.properties))).toBe(true);
    expect(contactsOf(messy).some((c) => c.properties['jobtitle'] === null)).toBe(true);
    expect(messy.some((o) => o.type === 'deals' && o.properties['amount'] === 'TBD')).toBe(true);
    expect(messy.some((o) => o.type === 'feedback_submissions' && /^\d+\/10$/.test(o.properties['hs_value'] ?? ''))).toBe(true);
    const futureWon = (objects: SandboxObject[]) =>
      objects.filter((o) => o.type === 'deals' && o.properties['dealstage'] === 'closedwon' && Date.parse(o.properties['closedate'] ?? '') > NOW);
    expect(futureWon(messy).length).toBeGreaterThan(0);
    expect(futureWon(clean)).toEqual([]);

    expect(contactsOf(clean).every((c) => /^\+1\d{10}$/.test(c.properties['phone'] ?? ''))).toBe(true);
    expect(clean.some((o) => o.properties['amount'] === 'TBD' || /\//.test(o.properties['hs_value'] ?? ''))).toBe(false);
  });
});
