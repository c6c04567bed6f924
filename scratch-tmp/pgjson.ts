import pg from 'pg';
import { readFileSync } from 'node:fs';
import { startPostgres, createDatabase } from '../test/support/postgres.ts';

const N = Number(process.env.N ?? 60000), PAGE = Number(process.env.PAGE ?? 1000);
const server = await startPostgres({ settings: { shared_buffers: '1GB' } });
const url = await createDatabase(server.url);
const c = new pg.Client({ connectionString: url }); await c.connect();
const pid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
const cpu = () => { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const table = (name: string, type: string) => `CREATE TABLE ${name} (portal TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, company_id TEXT COLLATE "C", updated_at BIGINT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT false, data ${type} NOT NULL, synced_at BIGINT NOT NULL, PRIMARY KEY (portal, type, id))`;
const unnestIn = (dataExpr: string) => `SELECT portal, type, id, company_id, updated_at, deleted, ${dataExpr.startsWith('string_to_table') ? 'data::json AS data' : 'data'} FROM ROWS FROM (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::bigint[]), unnest($6::boolean[]), ${dataExpr}) AS t(portal, type, id, company_id, updated_at, deleted, data)`;
const cmp = (t: string) => (t === 'json' ? ['excluded.data::text <> r.data::text', 'p.data::text <> up.data::text'] : ['excluded.data <> r.data', 'p.data <> up.data']);
function current(tbl: string, typ: string, dataExpr: string) {
  const [c1, c2] = cmp(typ);
  return `WITH input AS (${unnestIn(dataExpr)}), prior AS (SELECT r.portal, r.type, r.id, r.data, r.deleted, r.company_id FROM ${tbl} r JOIN input i ON r.portal = i.portal AND r.type = i.type AND r.id = i.id),
  up AS (INSERT INTO ${tbl} AS r (portal, type, id, company_id, updated_at, deleted, data, synced_at) SELECT portal, type, id, company_id, updated_at, deleted, data, $8 FROM input
  ON CONFLICT (portal, type, id) DO UPDATE SET company_id = excluded.company_id, updated_at = excluded.updated_at, deleted = excluded.deleted, data = excluded.data, synced_at = excluded.synced_at
  WHERE excluded.updated_at > r.updated_at OR (excluded.updated_at = r.updated_at AND (excluded.deleted <> r.deleted OR ${c1} OR excluded.company_id IS DISTINCT FROM r.company_id))
  RETURNING r.portal, r.type, r.id, r.data, r.deleted, r.company_id)
  SELECT up.portal, up.type, up.id, (p.id IS NULL OR ${c2} OR p.deleted <> up.deleted OR p.company_id IS DISTINCT FROM up.company_id) AS content_changed, p.id IS NOT NULL AS existed FROM up LEFT JOIN prior p ON p.portal = up.portal AND p.type = up.type AND p.id = up.id`;
}
function withOld(tbl: string, typ: string, dataExpr: string) {
  const c1 = typ === 'json' ? 'excluded.data::text <> r.data::text' : 'excluded.data <> r.data';
  const c2 = typ === 'json' ? 'old.data::text <> new.data::text' : 'old.data <> new.data';
  return `INSERT INTO ${tbl} AS r (portal, type, id, company_id, updated_at, deleted, data, synced_at) SELECT portal, type, id, company_id, updated_at, deleted, data, $8 FROM (${unnestIn(dataExpr)}) i
  ON CONFLICT (portal, type, id) DO UPDATE SET company_id = excluded.company_id, updated_at = excluded.updated_at, deleted = excluded.deleted, data = excluded.data, synced_at = excluded.synced_at
  WHERE excluded.updated_at > r.updated_at OR (excluded.updated_at = r.updated_at AND (excluded.deleted <> r.deleted OR ${c1} OR excluded.company_id IS DISTINCT FROM r.company_id))
  RETURNING new.portal, new.type, new.id, (old.id IS NULL OR ${c2} OR old.deleted <> new.deleted OR old.company_id IS DISTINCT FROM new.company_id) AS content_changed, old.id IS NOT NULL AS existed`;
}
const variants: Record<string, { typ: string; sql: (t: string) => string; lines?: boolean }> = {
  A_jsonb_prior: { typ: 'jsonb', sql: (t) => current(t, 'jsonb', 'jsonb_array_elements($7::jsonb)') },
  B_jsonb_old: { typ: 'jsonb', sql: (t) => withOld(t, 'jsonb', 'jsonb_array_elements($7::jsonb)') },
  C_json_old: { typ: 'json', sql: (t) => withOld(t, 'json', 'json_array_elements($7::json)') },
  D_json_old_lines: { typ: 'json', sql: (t) => withOld(t, 'json', "string_to_table($7, E'\\n')"), lines: true },
  E_json_prior_lines: { typ: 'json', sql: (t) => current(t, 'json', "string_to_table($7, E'\\n')"), lines: true },
};
function payload(i: number) {
  return JSON.stringify({ d: { email: `person${i}@example${i % 97}.com`, emailRaw: null, phone: '+1555' + String(i).padStart(7, '0'), phoneRaw: `(555) ${i}`, firstName: 'Alexandra', lastName: `Smith-${i}`, createdAt: 1700000000000 + i * 1000, lifecycleStage: 'customer', leadStatus: 'OPEN', jobTitle: 'Head of Operations', city: 'Amsterdam', country: 'NL', ownerId: '12345', numEmployees: null, industry: 'SOFTWARE' } });
}
const rounds = Number(process.env.ROUNDS ?? 2);
const order = Object.keys(variants);
const totals: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) for (const name of order) {
  const v = variants[name]!; const tbl = `t_${name.toLowerCase()}_${round}`;
  await c.query(table(tbl, v.typ));
  for (const pass of ['insert', 'resend'] as const) {
    const t0 = cpu(); const w0 = performance.now();
    for (let s = 0; s < N; s += PAGE) {
      const ids = [], data = [];
      for (let i = s; i < Math.min(N, s + PAGE); i++) { ids.push(String(100000 + i)); data.push(payload(i)); }
      const n = ids.length;
      await c.query({ name: `${tbl}`, text: v.sql(tbl), values: [Array(n).fill(`hubspot:${s % 20}`), Array(n).fill('contacts'), ids, Array(n).fill(null), Array(n).fill(1700000000000), Array(n).fill(false), v.lines ? data.join('\n') : `[${data.join(',')}]`, 1] });
    }
    const d = cpu() - t0;
    (totals[`${name} ${pass}`] ??= []).push(d);
    console.log(name, pass, `server ${(d / N * 1e6).toFixed(1)} µs/row`, `wall ${((performance.now() - w0) / N * 1000).toFixed(1)} µs/row`);
  }
  await c.query(`DROP TABLE ${tbl}`);
}
for (const [k, v] of Object.entries(totals)) console.log(k.padEnd(28), v.map((x) => (x / N * 1e6).toFixed(1)).join(' '));
await c.end(); await server.stop();
