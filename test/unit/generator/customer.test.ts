import { describe, expect, it } from 'vitest';
import { drawCustomer } from '../../../src/sandbox/generator/customer.ts';
import { BG_NBD, scaleMessiness } from '../../../src/sandbox/generator/params.ts';
import { createRng } from '../../../src/sandbox/generator/random.ts';
import { sentimentOf } from '../../../src/scoring/sentiment.ts';
import { emitCompany, emitCustomer, initialIds, type Sink } from '../../../src/sandbox/generator/records.ts';

const NOW = Date.UTC(2026, 0, 15);

/** Inbound = done by the customer: purchases, incoming emails, inbound calls, tickets, survey answers. */
function inboundTimes(sink: Sink): number[] {
  const times: number[] = [];
  for (const o of sink.batch.objects) {
    const p = o.properties;
    if (o.type === 'deals' && p['hs_is_closed_won'] === 'true') times.push(Date.parse(p['closedate'] ?? ''));
    if (o.type === 'emails' && p['hs_email_direction'] === 'INCOMING_EMAIL') times.push(Date.parse(p['hs_timestamp'] ?? ''));
    if (o.type === 'calls' && p['hs_call_direction'] === 'INBOUND') times.push(Date.parse(p['hs_timestamp'] ?? ''));
    if (o.type === 'tickets') times.push(Date.parse(p['createdate'] ?? ''));
    if (o.type === 'feedback_submissions') times.push(Date.parse(p['hs_submission_timestamp'] ?? ''));
  }
  return times;
}

describe('customers', () => {
  it('after churn: no purchases and no inbound activity; reps may still reach out', () => {
    const rng = createRng(77);
    let churned = 0;
    let outboundAfterDeath = 0;
    for (let i = 0; i < 400; i++) {
      const customer = drawCustomer(rng, NOW);
      const sink: Sink = { rng, now: NOW, mess: scaleMessiness(0), ids: initialIds(), batch: { objects: [], associations: [], truth: [] } };
      const company = emitCompany(sink, i, customer.createdAt, customer.createdAt);
      emitCustomer(sink, customer, company);
      const last = Math.max(...inboundTimes(sink));
      expect(last).toBeLessThanOrEqual(customer.activeUntil);
      if (customer.diedAt !== null) {
        churned++;
        // the dropout happens right after a purchase: that purchase is the last one
        expect(customer.purchases[customer.purchases.length - 1]).toBe(customer.diedAt);
        expect(customer.truth.churnedNext90d).toBe(true);
        expect(customer.truth.ticketNext30d).toBe(false);
        outboundAfterDeath += sink.batch.objects.filter(
          (o) => (o.type === 'emails' && o.properties['hs_email_direction'] === 'EMAIL') && Date.parse(o.properties['hs_timestamp'] ?? '') > customer.activeUntil,
        ).length;
      }
    }
    expect(churned).toBeGreaterThan(50);
    expect(outboundAfterDeath).toBeGreaterThan(0);
  });

  it('ties dropout to the latent drivers while keeping its Beta(a, b) marginal', () => {
    const rng = createRng(5);
    const ps: number[] = [];
    const sats: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const c = drawCustomer(rng, NOW);
      ps.push(c.p);
      sats.push(c.s);
    }
    const mean = ps.reduce((s, v) => s + v, 0) / ps.length;
    const variance = ps.reduce((s, v) => s + (v - mean) ** 2, 0) / ps.length;
    const { a, b } = BG_NBD;
    expect(mean).toBeCloseTo(a / (a + b), 2);
    expect(variance).toBeCloseTo((a * b) / ((a + b) ** 2 * (a + b + 1)), 2);
    // Unhappier customers drop out more: compare the bottom and top satisfaction quartiles.
    const order = sats.map((s, i) => [s, ps[i] as number] as const).sort((x, y) => x[0] - y[0]);
    const q = order.length / 4;
    const avg = (rows: (readonly [number, number])[]) => rows.reduce((s, r) => s + r[1], 0) / rows.length;
    expect(avg(order.slice(0, q))).toBeGreaterThan(avg(order.slice(-q)) * 1.5);
  });
});

describe('leavers behave as real ones (issue 17)', () => {
  it('tickets, negative messages and detractor answers rise in the 90 days before a customer leaves', () => {
    const rng = createRng(1717);
    const DAY = 86_400_000;
    // per-customer rates in a 90-day window: before leaving (leavers) vs the last 90 days (stayers)
    const tally = { leave: { days: 0, tickets: 0, nps: 0, detractors: 0, texts: 0, negative: 0 }, stay: { days: 0, tickets: 0, nps: 0, detractors: 0, texts: 0, negative: 0 } };
    for (let i = 0; i < 1500; i++) {
      const customer = drawCustomer(rng, NOW);
      const sink: Sink = { rng, now: NOW, mess: scaleMessiness(0), ids: initialIds(), batch: { objects: [], associations: [], truth: [] } };
      emitCustomer(sink, customer, emitCompany(sink, i, customer.createdAt, customer.createdAt));
      const leaving = customer.leavesAt !== null && customer.leavesAt <= NOW;
      const to = leaving ? (customer.leavesAt as number) : NOW;
      const from = Math.max(customer.createdAt, to - 90 * DAY);
      if (customer.leavesAt !== null && !leaving) continue; // leaves after now: neither group
      const t = leaving ? tally.leave : tally.stay;
      t.days += (to - from) / DAY;
      const inWindow = (iso: string | null | undefined) => {
        const at = Date.parse(iso ?? '');
        return at > from && at <= to;
      };
      for (const o of sink.batch.objects) {
        const p = o.properties;
        if (o.type === 'tickets' && inWindow(p['createdate'])) t.tickets++;
        if (o.type === 'feedback_submissions' && p['hs_survey_type'] === 'NPS' && inWindow(p['hs_submission_timestamp'])) {
          t.nps++;
          if (Number(p['hs_value']) <= 6) t.detractors++;
        }
        if (o.type === 'emails' && p['hs_email_direction'] === 'INCOMING_EMAIL' && inWindow(p['hs_timestamp'])) {
          t.texts++;
          if (sentimentOf(p['hs_email_text']).score < 0) t.negative++;
        }
      }
    }
    expect(tally.leave.days).toBeGreaterThan(5000);
    expect(tally.stay.days).toBeGreaterThan(5000);
    const ticketRate = (g: typeof tally.leave) => g.tickets / g.days;
    expect(ticketRate(tally.leave)).toBeGreaterThan(2 * ticketRate(tally.stay));
    expect(tally.leave.detractors / tally.leave.nps).toBeGreaterThan(tally.stay.detractors / tally.stay.nps + 0.1);
    expect(tally.leave.negative / tally.leave.texts).toBeGreaterThan(tally.stay.negative / tally.stay.texts + 0.1);
  });
});
