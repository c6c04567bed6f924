import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, inject, it, onTestFinished } from 'vitest';
import type { CrmRecord, Cursor, RecordData } from '../../src/connectors/types.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { ANALYZE_LOCK, analyzeIfDue, openPostgresStore } from '../../src/store/postgres/store.ts';
import { rescoreAllInParallel } from '../../src/scoring/parallel.ts';
import { createPool } from '../../src/store/postgres/pool.ts';
import { arrayLiteral, statement } from '../../src/store/postgres/sql.ts';
import { createDatabase } from '../support/postgres.ts';

/** What only the Postgres store has to get right: the contract suite covers the shared behaviour. */

const P = 'hubspot:1';
const contact = (id: string, data: Partial<Record<string, unknown>> = {}): CrmRecord => ({
  portal: P,
  type: 'contacts',
  id,
  contactIds: undefined,
  companyId: null,
  updatedAt: 1,
  deleted: false,
  data: { email: `${id}@x.io`, firstName: 'A', lastName: 'B', createdAt: 1, ...data } as unknown as RecordData,
});

const opened: Store[] = [];
const clients: pg.Client[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const c of clients.splice(0)) await c.end();
});
const open = async (url: string) => {
  const s = await openPostgresStore({ url });
  opened.push(s);
  return s;
};
const client = async (url: string) => {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
};

describe('the Postgres store', () => {
  it('orders ids bytewise, as SQLite does, on a database whose default collation is linguistic', async () => {
    const server = await client(inject('postgresUrl'));
    const name = `rapport_icu_${Math.random().toString(16).slice(2, 10)}`;
    // ICU's English collation sorts 'a-2' after 'a10' and 'b' before 'B'; migration 4 makes the key columns "C"
    await server.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'`);
    const url = new URL(inject('postgresUrl'));
    url.pathname = `/${name}`;
    const store = await open(url.toString());
    const ids = ['b', 'B', 'a10', 'a-2', 'a2', '_x'];
    await store.records.upsertPage(ids.map((id) => contact(id)));
    expect(await store.records.ids(P, 'contacts')).toEqual([...ids].sort());
    // keyset shares cover every contact exactly once
    const ends = await store.contacts.shareEnds(P, 3);
    const seen: string[] = [];
    let after: string | undefined;
    for (const end of ends) {
      seen.push(...(await store.contacts.chunk(P, { ...(after === undefined ? {} : { after }), ...(end === undefined ? {} : { through: end }) }, 100)).map((c) => c.id));
      after = end;
    }
    expect(seen).toEqual([...ids].sort());
  });

  it('analyses the tables a backfill fills after its 10th page, so the planner looks links up by the primary key', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await open(url);
    const db = await client(url);
    const analysed = async () =>
      (await db.query<{ relname: string }>("SELECT relname FROM pg_stat_user_tables WHERE relname IN ('records', 'associations', 'dirty_contacts') AND last_analyze IS NOT NULL ORDER BY relname")).rows.map((r) => r.relname);
    const run = { id: await store.syncRuns.start(P, 'calls'), pages: 0, records: 0 };
    const page = async (n: number) => {
      // calls linked to contacts: the links a page's upsert looks up
      const records = Array.from({ length: 100 }, (_, i) => ({ ...contact(`call-${n}-${i}`), type: 'calls' as const, contactIds: [`c-${n}-${i}`, `c-${n}-${i + 1}`] }));
      await store.commitPage({ portal: P, stream: 'calls', records, cursor: `${n}` as Cursor, run: { ...run, pages: n, records: 100 * n } });
    };
    for (let n = 1; n <= 9; n++) await page(n);
    expect(await analysed()).toEqual([]);
    await page(10);
    for (let i = 0; i < 100 && (await analysed()).length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await analysed()).toEqual(['associations', 'dirty_contacts', 'records']);
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      "EXPLAIN SELECT to_id FROM associations a JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(portal, type, id) ON a.portal = k.portal AND a.from_type = k.type AND a.from_id = k.id WHERE a.to_type = 'contacts'",
      [[P], ['calls'], ['call-1-1']],
    );
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('associations_pkey');
  });

  it('analyses once for every process of a deployment: not while another session does, not again until the tables grew by half', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    await (await open(url)).close(); // the schema
    const [a, b] = [await client(url), await client(url)];
    const analyze = async (c: pg.Client) => {
      await c.query('BEGIN');
      try {
        return await analyzeIfDue(c);
      } finally {
        await c.query('COMMIT');
      }
    };
    // rows as a backfill's page leaves them; a backend reports its counts to the statistics views
    // at most once a second, or at once when asked (https://www.postgresql.org/docs/current/monitoring-stats.html)
    const insert = async (from: number, n: number) => {
      await b.query(
        "INSERT INTO records (portal, type, id, updated_at, data, synced_at) SELECT 'hubspot:1', 'contacts', 'g-' || i, 1, '{}', 1 FROM generate_series($1::int, $2::int) AS i",
        [from, from + n - 1],
      );
      await b.query('SELECT pg_stat_force_next_flush()');
      await b.query('SELECT 1');
    };
    await insert(0, 500);
    // a session analysing holds the lock: the other skips
    await b.query('BEGIN');
    await b.query(`SELECT pg_advisory_xact_lock(${ANALYZE_LOCK})`);
    expect(await analyze(a)).toBe(false);
    await b.query('COMMIT');
    expect(await analyze(a)).toBe(true); // never analysed
    expect(await analyze(b)).toBe(false); // just analysed, nothing new
    await insert(500, 100);
    expect(await analyze(b)).toBe(false); // 100 rows more on 500
    await insert(600, 1000);
    expect(await analyze(b)).toBe(true);
  });

  it("a worker's store (keepConnectionsOpen) has its pool's every connection open once it is opened", async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await openPostgresStore({ url, keepConnectionsOpen: true, poolMax: 4, applicationName: 'rapport-test-worker' });
    opened.push(store);
    const db = await client(url);
    const sessions = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rapport-test-worker'");
    expect(sessions.rows[0]!.n).toBe(4);
    await store.records.upsertPage([contact('1')]);
    expect((await store.records.get(P, 'contacts', '1'))?.id).toBe('1');
  });

  it('a worker whose role may not open its whole pool fails at start, saying why, and leaves no session open', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    await open(url); // migrated by a role without the limit
    const db = await client(url);
    const role = `rapport_limited_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    // a role's connection limit (https://www.postgresql.org/docs/current/sql-createrole.html): 2, for a pool of 4
    await db.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' CONNECTION LIMIT 2`);
    await db.query(`GRANT ALL ON SCHEMA public TO ${role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    const limited = new URL(url);
    limited.username = role;
    limited.password = password;
    await expect(openPostgresStore({ url: limited.toString(), keepConnectionsOpen: true, poolMax: 4 })).rejects.toThrow(
      /cannot open the Postgres database .*too many connections for role/,
    );
    // the sessions it did open were closed (a server process may take a moment to leave pg_stat_activity)
    const left = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [role])).rows[0]!.n;
    for (let i = 0; i < 50 && (await left()) > 0; i++) await new Promise((r) => setTimeout(r, 40));
    expect(await left()).toBe(0);
    // the same role with a pool that fits opens
    const fits = await openPostgresStore({ url: limited.toString(), keepConnectionsOpen: true, poolMax: 2 });
    opened.push(fits);
  });

  it("a worker thread's read-only store reads the same data and cannot write", async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await open(url);
    await store.records.upsertPage([contact('1')]);
    const reader = openStore(JSON.parse(JSON.stringify(store.location)) as Store['location'], { readonly: true });
    opened.push(reader);
    expect((await reader.contacts.chunk(P, {}, 10)).map((c) => c.id)).toEqual(['1']);
    await expect(reader.records.upsertPage([contact('2')])).rejects.toMatchObject({ code: '25006' }); // read_only_sql_transaction
    await expect(reader.dirty.mark(P, '1', 5)).rejects.toMatchObject({ code: '25006' });
    expect(await store.records.get(P, 'contacts', '2')).toBeUndefined();
  });

  it('stores a NUL character and a lone surrogate that JSONB refuses as U+FFFD instead of failing the page; a literal backslash-u and an emoji stay', async () => {
    const store = await open(await createDatabase(inject('postgresUrl')));
    const odd = { firstName: 'A\u0000B', lastName: 'C\\u0000D', jobTitle: 'cut \ud83d', city: '\ude00 cut', country: 'whole \ud83d\ude00', industry: 'literal \\ud800' };
    expect(await store.records.upsertPage([contact('1', odd), contact('2')])).toBe(2);
    const stored = { firstName: 'A\ufffdB', lastName: 'C\\u0000D', jobTitle: 'cut \ufffd', city: '\ufffd cut', country: 'whole 😀', industry: 'literal \\ud800' };
    expect((await store.records.get(P, 'contacts', '1'))?.data).toMatchObject(stored);
    // re-sent as it came, or with another half emoji: the same once made safe, so nothing changes
    expect(await store.records.upsertPage([contact('1', odd)])).toBe(0);
    expect(await store.records.upsertPage([contact('1', { ...odd, jobTitle: 'cut \ud83e' })])).toBe(0);
    expect(await store.records.upsertPage([contact('1', { ...odd, jobTitle: 'whole' })])).toBe(1);
  });

  it('array parameters arrive element for element, whichever way they are written (arrayLiteral, or node-postgres for escapes)', async () => {
    const db = createPool(inject('postgresUrl'), { max: 1 });
    onTestFinished(() => db.end());
    const echo = statement<{ t: (string | null)[]; n: (string | null)[]; b: (boolean | null)[] }>('test_echo_arrays', 'SELECT $1::text[] AS t, $2::bigint[]::text[] AS n, $3::boolean[] AS b');
    const texts = ['', 'NULL', 'null', 'a,b', '{x}', ' spaced ', 'é 😀', null, 'say "hi"', 'back\\slash', 'tab\there', 'new\nline', 'half \ud83d'];
    for (const t of [texts.slice(0, 8), texts]) {
      // the first list takes the JSON path, the second (escapes) node-postgres's
      expect(arrayLiteral(t) === t).toBe(t.length > 8);
      const row = (await echo(db, [t, [1, -2, 1_735_689_600_000, null, undefined], [true, false, null]])).rows[0]!;
      expect(row.t).toEqual(t.map((x) => (x === 'half \ud83d' ? 'half \ufffd' : x)));
      expect(row.n).toEqual(['1', '-2', '1735689600000', null, null]);
      expect(row.b).toEqual([true, false, null]);
    }
    expect(arrayLiteral([1, 'a', true, null])).toBe('{1,"a",true,null}');
    for (const odd of [[Number.NaN], [new Date(0)], [[1]], [{}]]) expect(arrayLiteral(odd)).toBe(odd);
  });

  it('two processes enqueueing for the same contacts lose nothing (the portal lock serializes read-then-write)', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const [a, b] = [await open(url), await open(url)];
    const ids = Array.from({ length: 40 }, (_, i) => `c${i}`);
    await Promise.all(ids.flatMap((id) => [a.outbox.enqueue(P, id, { satisfaction: '1' }), b.outbox.enqueue(P, id, { loyalty: '2' })]));
    const due = await a.outbox.due(P, 100);
    expect(due).toHaveLength(40);
    for (const item of due) expect(item.properties).toEqual({ satisfaction: '1', loyalty: '2' });
  });

  it('score --all on two worker threads: every contact saved and counted once, though saves of both now overlap', async () => {
    const store = await open(await createDatabase(inject('postgresUrl')));
    await store.records.upsertPage(Array.from({ length: 400 }, (_, i) => contact(`c${String(i).padStart(3, '0')}`)));
    // small batches from two workers: their saves are in flight together (they wait on real I/O here)
    const r = await rescoreAllInParallel(store, P, { now: Date.UTC(2026, 5, 1), workers: 2, chunkSize: 20 });
    expect(r).toEqual({ scored: 400, enqueued: 400 });
    expect(await store.scores.count(P)).toBe(400);
    expect(await store.outbox.stats(P)).toEqual({ pending: 400, parked: 0 });
    expect(await store.dirty.count(P)).toBe(0);
  });

  it("a writer waits for the portal's lock at most the lock timeout, then fails with nothing written", async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await open(url);
    const run = await store.syncRuns.start(P, 'contacts');
    const other = await client(url);
    await other.query("SELECT pg_advisory_lock(hashtextextended('rapport:portal:' || $1, 0))", [P]);
    await store.setLockTimeout(100);
    const page = { portal: P, stream: 'contacts' as const, records: [contact('1')], cursor: 'c1' as Cursor, run: { id: run, pages: 1, records: 1 } };
    await expect(store.commitPage(page)).rejects.toMatchObject({ code: '55P03' }); // lock_not_available
    expect(await store.records.hasAny(P)).toBe(false);
    // another portal is not held up
    await store.commitPage({ ...page, portal: 'hubspot:2', records: [{ ...contact('1'), portal: 'hubspot:2' }] });
    await other.query('SELECT pg_advisory_unlock_all()');
    expect(await store.commitPage(page)).toBe(1);
    expect(await store.cursors.get(P, 'contacts')).toBe('c1');
  });
});

describe('group commit of sync pages (group-commit.ts)', () => {
  const portalsOf = (n: number) => Array.from({ length: n }, (_, i) => `hubspot:${100 + i}`);
  const pageOf = (portal: string, run: number, n: number, edit = '') => ({
    portal,
    stream: 'contacts' as const,
    records: Array.from({ length: 50 }, (_, i) => ({ ...contact(`p${n}-${i}`, { firstName: `A${i === 0 ? edit : ''}` }), portal })),
    cursor: `c${n}` as Cursor,
    run: { id: run, pages: n, records: 50 * n },
  });
  const settled = async (p: Promise<unknown>) => (await Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])) as boolean;

  it('pages of many portals at once commit in fewer transactions, each page counted, cursored and progressed as alone', async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await open(url);
    const db = await client(url);
    const portals = portalsOf(10);
    const runs = await Promise.all(portals.map((p) => store.syncRuns.start(p, 'contacts')));
    // every portal syncs its 5 pages in order, all portals at once, as a worker's sync jobs do
    const pass = (edit: (n: number) => string) =>
      Promise.all(portals.map(async (p, k) => {
        const changed: number[] = [];
        for (let n = 1; n <= 5; n++) changed.push(await store.commitPage(pageOf(p, runs[k]!, n, edit(n))));
        return changed;
      }));
    expect(await pass(() => '')).toEqual(portals.map(() => [50, 50, 50, 50, 50]));
    // a row's xmin is the transaction that wrote it
    const writers = await db.query<{ n: number }>('SELECT count(DISTINCT xmin::text)::int AS n FROM records');
    expect(writers.rows[0]!.n).toBeLessThan(50);
    // the same pages again change nothing, but page 3's first contact
    expect(await pass((n) => (n === 3 ? 'x' : ''))).toEqual(portals.map(() => [0, 0, 1, 0, 0]));
    for (const [k, p] of portals.entries()) {
      expect(await store.records.counts(p)).toEqual({ contacts: { live: 250, deleted: 0 } });
      expect(await store.cursors.get(p, 'contacts')).toBe('c5');
      expect(await store.dirty.count(p)).toBe(250);
      expect((await store.records.get(p, 'contacts', 'p3-0'))?.data).toMatchObject({ firstName: 'Ax' });
      const progress = await db.query('SELECT pages, records FROM sync_runs WHERE id = $1', [runs[k]]);
      expect(progress.rows[0]).toEqual({ pages: 5, records: 250 });
    }
  });

  it('a page the server refuses fails alone, with nothing of it written; the pages it was grouped with commit', async () => {
    const store = await open(await createDatabase(inject('postgresUrl')));
    const portals = portalsOf(6);
    const runs = await Promise.all(portals.map((p) => store.syncRuns.start(p, 'contacts')));
    const pages = portals.map((p, k) => pageOf(p, runs[k]!, 1));
    // an id with a NUL character: text cannot hold one (invalid byte sequence, 22021)
    pages[4]!.records[7] = { ...pages[4]!.records[7]!, id: 'bad\u0000id' };
    const out = await Promise.allSettled(pages.map((p) => store.commitPage(p)));
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((out[4] as PromiseRejectedResult).reason).toMatchObject({ code: '22021' });
    for (const [k, p] of portals.entries()) {
      expect(await store.records.hasAny(p)).toBe(k !== 4);
      expect(await store.cursors.get(p, 'contacts')).toBe(k === 4 ? null : 'c1');
    }
  });

  it("a portal whose lock another session holds waits alone; the other portals' pages commit meanwhile", async () => {
    const url = await createDatabase(inject('postgresUrl'));
    const store = await open(url);
    const portals = portalsOf(6);
    const runs = await Promise.all(portals.map((p) => store.syncRuns.start(p, 'contacts')));
    const other = await client(url);
    await other.query("SELECT pg_advisory_lock(hashtextextended('rapport:portal:' || $1, 0))", [portals[3]]);
    const commits = portals.map((p, k) => store.commitPage(pageOf(p, runs[k]!, 1)));
    await Promise.all(commits.filter((_, k) => k !== 3));
    expect(await settled(commits[3]!)).toBe(false);
    expect(await store.records.hasAny(portals[3]!)).toBe(false);
    await other.query('SELECT pg_advisory_unlock_all()');
    expect(await commits[3]).toBe(50);
    expect(await store.cursors.get(portals[3]!, 'contacts')).toBe('c1');
  });
});
