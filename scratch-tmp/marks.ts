import pg from 'pg';
import { readFileSync } from 'node:fs';
import { startPostgres, createDatabase } from '../test/support/postgres.ts';
import { openPostgresStore, poolOf } from '../src/store/postgres/store.ts';

const server = await startPostgres({ settings: { shared_buffers: '1GB' } });
const url = await createDatabase(server.url);
const store = await openPostgresStore({ url });
await store.close();
const c = new pg.Client({ connectionString: url }); await c.connect();
const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
const cpu = () => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const PORTALS = 20, PER = 10000;
const MARK = `INSERT INTO dirty_contacts (portal, contact_id, marked_at) SELECT portal, id, $3 FROM unnest($1::text[], $2::text[]) AS k(portal, id) ON CONFLICT (portal, contact_id) DO NOTHING`;
const SCALAR = `INSERT INTO dirty_contacts (portal, contact_id, marked_at) SELECT $1, id, $3 FROM unnest($2::text[]) AS k(id) ON CONFLICT (portal, contact_id) DO NOTHING`;
const PLAIN = `INSERT INTO dirty_contacts (portal, contact_id, marked_at) SELECT portal, id, $3 FROM unnest($1::text[], $2::text[]) AS k(portal, id)`;
const NOTEXISTS = `INSERT INTO dirty_contacts (portal, contact_id, marked_at) SELECT portal, id, $3 FROM unnest($1::text[], $2::text[]) AS k(portal, id) WHERE NOT EXISTS (SELECT 1 FROM dirty_contacts d WHERE d.portal = k.portal AND d.contact_id = k.id) ON CONFLICT (portal, contact_id) DO NOTHING`;
const SQL: Record<string, string> = { MARK, SCALAR, PLAIN, NOTEXISTS };
let which = 'MARK';
async function pass(label: string, page: number) {
  const t0 = cpu(); let n = 0;
  for (let p = 0; p < PORTALS; p++) for (let s = 0; s < PER; s += page) {
    const ids = Array.from({ length: page }, (_, i) => String(1000000 + s + i));
    await c.query({ name: which + page, text: SQL[which]!, values: [which === 'SCALAR' ? `hubspot:${p}` : Array(page).fill(`hubspot:${p}`), ids, 1] });
    n += page;
  }
  console.log(which.padEnd(10), label, `${((cpu() - t0) / n * 1e6).toFixed(1)} µs/row`, n);
}
for (let r = 0; r < 2; r++) for (const w of ['MARK', 'SCALAR', 'PLAIN', 'NOTEXISTS']) {
  which = w;
  await c.query('TRUNCATE dirty_contacts');
  await pass('insert new, pages of 100', 100);
  if (w !== 'PLAIN') await pass('conflicts, pages of 100', 100);
}
await c.end(); await server.stop();
