import type { Db } from '../src/store/db.ts';
import { createRandom } from '../src/stats/random.ts';

const DAY = 86_400_000;

/**
 * Fills a portal's cache below the store port (bulk INSERTs in 20,000-row transactions: the
 * store's page commits would take minutes at a million contacts): `n` contacts, each with 0–2
 * won deals, two e-mails or calls, a ticket (40 %) and an NPS answer (30 %), dated before `now`.
 * Returns the number of records written.
 */
export function fillCache(db: Db, o: { portal: string; n: number; now: number; afterBatch?: () => void }): number {
  const { portal: PORTAL, n, now: NOW } = o;
  const rnd = createRandom(1);
  const rec = db.prepare(
    'INSERT INTO records (portal, type, id, company_id, updated_at, deleted, data, synced_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
  );
  const assoc = db.prepare(
    "INSERT INTO associations (portal, from_type, from_id, to_type, to_id) VALUES (?, ?, ?, 'contacts', ?)",
  );
  let rows = 0;
  let seq = 0;
  const add = (type: string, cid: string, data: unknown) => {
    const id = String(++seq);
    rec.run(PORTAL, type, id, null, NOW, JSON.stringify({ d: data }), NOW);
    assoc.run(PORTAL, type, id, cid);
    rows++;
  };
  const batch = 20_000;
  for (let start = 0; start < n; start += batch) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + batch); i++) {
        const cid = `c${String(i).padStart(8, '0')}`;
        const created = NOW - Math.floor(rnd() * 700) * DAY;
        rec.run(PORTAL, 'contacts', cid, null, NOW, JSON.stringify({ d: { email: `${cid}@example.com`, emailRaw: null, phone: null, phoneRaw: null, firstName: 'A', lastName: 'B', createdAt: created, lifecycleStage: 'customer' } }), NOW);
        rows++;
        const purchases = rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 2);
        for (let k = 0; k < purchases; k++) {
          const at = NOW - Math.floor(rnd() * 600) * DAY;
          add('deals', cid, { amount: 500 + Math.round(rnd() * 3000), amountRaw: '1000', stage: 'closedwon', isClosed: true, isClosedWon: true, closedAt: at, createdAt: at - 20 * DAY });
        }
        for (let k = 0; k < 2; k++) {
          const at = NOW - Math.floor(rnd() * 300) * DAY;
          add(rnd() < 0.5 ? 'emails' : 'calls', cid, { at, direction: rnd() < 0.6 ? 'inbound' : 'outbound', durationMs: null, outcome: null, text: rnd() < 0.3 ? 'Thanks, that was helpful' : null, priority: null });
        }
        if (rnd() < 0.4) {
          const at = NOW - Math.floor(rnd() * 200) * DAY;
          add('tickets', cid, { priority: rnd() < 0.2 ? 'HIGH' : 'MEDIUM', stage: 'closed', isClosed: rnd() < 0.8, createdAt: at, closedAt: at + 2 * DAY, timeToCloseMs: 2 * DAY, reopenedCount: 0, source: 'EMAIL', subject: 'Export is broken', content: null });
        }
        if (rnd() < 0.3) add('feedback_submissions', cid, { surveyType: 'NPS', value: Math.floor(rnd() * 11), valueRaw: '7', comment: null, at: NOW - Math.floor(rnd() * 200) * DAY, channel: 'EMAIL' });
      }
    })();
    o.afterBatch?.();
  }
  return rows;
}
