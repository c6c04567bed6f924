import { describe, expect, it } from 'vitest';
import { createFakeConnector } from '../../../src/connectors/fake.ts';
import type { CrmRecord, Cursor, EngagementData } from '../../../src/connectors/types.ts';

const note = (text: string): EngagementData => ({ at: 0, direction: null, durationMs: null, outcome: null, text, priority: null });

async function drain(c: ReturnType<typeof createFakeConnector>, cursor: Cursor | null) {
  const records: CrmRecord[] = [];
  let last = cursor;
  for await (const p of c.changes('notes', cursor, new AbortController().signal)) {
    records.push(...p.records);
    last = p.next;
  }
  return { records, cursor: last };
}

describe('fake connector (beyond the contract)', () => {
  it('association changes do not bump updatedAt: invisible incrementally, delivered by the sweep', async () => {
    let t = 1_000_000;
    const c = createFakeConnector({ pageSize: 5, now: () => t, sweepEveryMs: 3_600_000 });
    c.put({ type: 'notes', id: '1', data: note('a'), contactIds: ['10'] });
    t += 1_000;
    c.put({ type: 'notes', id: '2', data: note('b'), contactIds: ['11'] });
    const first = await drain(c, null);
    t += 60_000;
    c.associate('notes', '1', ['10', '12']);
    const inc = await drain(c, first.cursor);
    expect(inc.records.find((r) => r.id === '1')).toBeUndefined();
    t += 3_600_000;
    const swept = await drain(c, inc.cursor);
    expect(swept.records.find((r) => r.id === '1')?.contactIds).toEqual(['10', '12']);
  });

  it('failNext injects errors in order, then recovers; writes are recorded per contact', async () => {
    const c = createFakeConnector();
    c.put({ type: 'contacts', id: '1', data: { email: null, emailRaw: null, phone: null, phoneRaw: null, firstName: null, lastName: null, createdAt: null, lifecycleStage: null } });
    c.failNext('unavailable');
    c.failNext('auth');
    const signal = new AbortController().signal;
    await expect(c.whoAmI()).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(c.provision(signal)).rejects.toMatchObject({ kind: 'auth' });
    await c.provision(signal);
    expect(c.provisioned).toBe(true);
    const res = await c.writeScores(
      [
        { contactId: '1', properties: { satisfaction: '80' } },
        { contactId: '2', properties: { satisfaction: '10' } },
      ],
      signal,
    );
    expect(res.map((r) => r.ok)).toEqual([true, false]);
    expect(c.written.get('1')).toEqual({ satisfaction: '80' });
    expect(c.stats().calls).toBe(4);
  });
});
