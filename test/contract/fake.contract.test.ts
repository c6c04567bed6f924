import { describe, expect, it } from 'vitest';
import { createFakeConnector } from '../../src/connectors/fake.ts';
import type { ContactData } from '../../src/connectors/types.ts';
import { CrmError, MISSING_PROPERTY } from '../../src/errors.ts';
import { connectorContract } from './connector-contract.ts';

const contact = (email: string, firstname: string | null): ContactData => ({
  email: email.trim().toLowerCase(),
  emailRaw: email,
  phone: null,
  phoneRaw: null,
  firstName: firstname,
  lastName: null,
  createdAt: null,
  lifecycleStage: null,
});

connectorContract('fake', async () => {
  let t = Date.UTC(2026, 0, 1);
  let next = 1000;
  const connector = createFakeConnector({ portal: 'hubspot:42', pageSize: 10, now: () => t });
  return {
    connector,
    portal: 'hubspot:42',
    pageSize: 10,
    async createContact(p) {
      const id = String(next++);
      connector.put({ type: 'contacts', id, data: contact(p.email, p.firstname ?? null) });
      return id;
    },
    async updateContact(id, p) {
      const cur = connector.get('contacts', id)!;
      const d = cur.data as ContactData;
      connector.put({
        type: 'contacts',
        id,
        data: contact(p.email ?? d.emailRaw ?? '', p.firstname ?? d.firstName),
      });
    },
    async deleteContact(id) {
      connector.remove('contacts', id);
    },
    async createNote(contactIds, body) {
      const id = String(next++);
      connector.put({
        type: 'notes',
        id,
        contactIds: [...contactIds],
        data: { at: t, direction: null, durationMs: null, outcome: null, text: body, priority: null },
      });
      return id;
    },
    async advance(ms) {
      t += ms;
    },
    async inject(fault) {
      // more failures than any retry budget: the fake does not retry at all
      connector.failNext(fault, 1);
    },
    async clearFaults() {},
    async close() {},
  };
});

/**
 * The fake's switches for tests above the port answer in the shapes the contract (and the real
 * connectors' own tests) fix: a per-record failure is a `{ ok: false, error: CrmError }` entry
 * while the rest are written; only auth and forbidden throw from writeScores; a write before the
 * properties exist fails per record with MISSING_PROPERTY (src/connectors/hubspot/write-scores.ts).
 */
describe('fake connector switches', () => {
  const signal = new AbortController().signal;
  const seeded = (o: Parameters<typeof createFakeConnector>[0] = {}) => {
    const c = createFakeConnector({ portal: 'hubspot:42', ...o });
    for (const id of ['1', '2', '3']) c.put({ type: 'contacts', id, data: contact(`c${id}@example.com`, null) });
    return c;
  };
  const kinds = (rs: Awaited<ReturnType<ReturnType<typeof createFakeConnector>['writeScores']>>) =>
    rs.map((r) => (r.ok ? `${r.contactId}:ok` : `${r.contactId}:${r.error.kind}:${r.error.details.code ?? ''}`));
  const updates = ['1', '2', '3'].map((contactId) => ({ contactId, properties: { loyalty: '10' } }));

  it('failWrite fails that contact alone, per record, for `times` writes', async () => {
    const c = seeded();
    c.failWrite('2', 'unavailable', 2);
    expect(kinds(await c.writeScores(updates, signal))).toEqual(['1:ok', '2:unavailable:INJECTED', '3:ok']);
    expect(kinds(await c.writeScores(updates, signal))).toEqual(['1:ok', '2:unavailable:INJECTED', '3:ok']);
    expect(kinds(await c.writeScores(updates, signal))).toEqual(['1:ok', '2:ok', '3:ok']);
    expect(c.written.get('2')).toEqual({ loyalty: '10' });
  });

  it('failNext on writeScores: auth and forbidden throw; any other kind fails every record of the batch; other operations are untouched', async () => {
    const c = seeded();
    c.failNext('unavailable', 1, { op: 'writeScores' });
    c.failNext('auth', 1, { op: 'writeScores' });
    // a page is not a write: the queued write faults stay queued
    for await (const page of c.changes('contacts', null, signal)) expect(page.records).toHaveLength(3);
    expect(kinds(await c.writeScores(updates, signal))).toEqual(['1:unavailable:INJECTED', '2:unavailable:INJECTED', '3:unavailable:INJECTED']);
    const e = await c.writeScores(updates, signal).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CrmError);
    expect((e as CrmError).kind).toBe('auth');
    expect(kinds(await c.writeScores(updates, signal))).toEqual(['1:ok', '2:ok', '3:ok']);
  });

  it('unprovisioned: writes fail per record with MISSING_PROPERTY until provision() succeeds', async () => {
    const c = seeded({ unprovisioned: true });
    expect(kinds(await c.writeScores(updates.slice(0, 1), signal))).toEqual([`1:invalid_request:${MISSING_PROPERTY}`]);
    c.failNext('forbidden', 1, { op: 'provision', code: 'MISSING_SCOPES' });
    await expect(c.provision(signal)).rejects.toMatchObject({ kind: 'forbidden', details: { code: 'MISSING_SCOPES' } });
    expect(c.provisioned).toBe(false);
    expect(kinds(await c.writeScores(updates.slice(0, 1), signal))).toEqual([`1:invalid_request:${MISSING_PROPERTY}`]);
    await c.provision(signal);
    expect(kinds(await c.writeScores(updates.slice(0, 1), signal))).toEqual(['1:ok']);
  });

  it('logs every request in order and awaits beforeRequest before serving it', async () => {
    const seen: string[] = [];
    const c = seeded({
      pageSize: 2,
      beforeRequest: async (r) => {
        await new Promise((ok) => setTimeout(ok, 1));
        seen.push(r.op);
      },
    });
    let pages = 0;
    for await (const page of c.changes('contacts', null, signal)) {
      pages += 1;
      // the request for this page was announced before it was served
      expect(seen).toHaveLength(pages);
      expect(page.records.length).toBeLessThanOrEqual(2);
    }
    await c.writeScores(updates.slice(0, 1), signal);
    expect(c.requests.map((r) => r.op)).toEqual(['changes', 'changes', 'writeScores']);
    expect(c.requests.at(-1)).toEqual({ op: 'writeScores', updates: [{ contactId: '1', properties: { loyalty: '10' } }] });
    expect(seen).toEqual(['changes', 'changes', 'writeScores']);
  });
});
