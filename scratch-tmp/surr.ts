import pg from 'pg';
import { startPostgres } from '../test/support/postgres.ts';
const server = await startPostgres();
const c = new pg.Client({ connectionString: server.url }); await c.connect();
const s = JSON.stringify({ d: { name: 'a\ud800b' } });
console.log('text', s);
for (const q of ['SELECT $1::json AS v', 'SELECT $1::jsonb AS v', "SELECT ($1::json)->'d'->>'name' AS v", 'SELECT e FROM json_array_elements(($1)::json) e', 'SELECT e FROM jsonb_array_elements(($1)::jsonb) e']) {
  const arg = q.includes('array_elements') ? `[${s}]` : s;
  try { const r = await c.query(q, [arg]); console.log('ok  ', q, JSON.stringify(r.rows[0])); } catch (e) { console.log('fail', q, (e as Error).message, (e as { code?: string }).code); }
}
await c.end(); await server.stop();
