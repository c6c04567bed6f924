/**
 * `rapport db copy`: a SQLite cache into an empty Postgres database, in one transaction, verified
 * before it commits by the row count and a checksum of every table read back from both sides. A
 * mismatch rolls the whole copy back and is an error with a `code` naming the tables.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DatabaseError } from '../errors.ts';
import { SCHEMA_VERSION } from './migrations.ts';
import { migrate, PG_ONLY_COLUMNS } from './postgres/migrations.ts';
import { createPool, redactUrl, withTransaction, type Pool, type PoolClient } from './postgres/pool.ts';
import { jsonText } from './postgres/sql.ts';

export type TableResult = { table: string; rows: number; checksum: string };
export type CopyResult = { from: string; to: string; tables: TableResult[]; ms: number };

type Column = { name: string; type: string };
type Table = { name: string; columns: Column[] };

/** Rows per INSERT: well under Postgres' 65,535 parameters per statement. */
const BATCH_ROWS = 500;
const FETCH_ROWS = 2000;

/** JSON text as the JSONB column will hold it (a NUL becomes U+FFFD, see jsonText). */
const jsonbSafe = (text: string): string => jsonText(JSON.parse(text));

/** One value as the Postgres column takes it. */
function toPostgres(type: string, v: unknown): unknown {
  if (v === null) return null;
  if (type === 'jsonb' || type === 'json') return jsonbSafe(v as string);
  if (type === 'boolean') return v === 1 || v === 1n;
  return v;
}

/** JSON with object keys sorted: JSONB keeps its own key order, so both sides hash this form. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** One value in the form both sides share: JSON canonical, flags 0/1, bytes as hex. */
function canonical(type: string, v: unknown, side: 'sqlite' | 'postgres'): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'jsonb' || type === 'json') return canonicalJson(side === 'sqlite' ? JSON.parse(jsonbSafe(v as string)) : v);
  if (type === 'boolean') return side === 'sqlite' ? Number(v) : v === true ? 1 : 0;
  if (type === 'bytea') return (v as Buffer).toString('hex');
  return v;
}

/**
 * An order-free checksum of a table: the sum, modulo 2^128, of each row's SHA-256 (first 16
 * bytes). Rows are read in whatever order each database streams them.
 */
class TableSum {
  rows = 0;
  private sum = 0n;
  add(values: readonly unknown[]): void {
    const h = createHash('sha256').update(JSON.stringify(values)).digest();
    this.sum = (this.sum + h.readBigUInt64BE(0) * 2n ** 64n + h.readBigUInt64BE(8)) % 2n ** 128n;
    this.rows++;
  }
  get hex(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

async function tablesOf(src: Database.Database, c: PoolClient): Promise<Table[]> {
  const names = src.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
  const cols = await c.query<{ table_name: string; column_name: string; data_type: string }>(
    'SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position',
  );
  return names.map(({ name }) => {
    if (!IDENT.test(name)) throw new DatabaseError('source_schema', `unexpected table name in the SQLite file: ${JSON.stringify(name)}`);
    const lite = src.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${name}')`).all().map((r) => r.name);
    const pg = cols.rows.filter((r) => r.table_name === name && !(PG_ONLY_COLUMNS[name] ?? []).includes(r.column_name));
    const same = pg.length === lite.length && pg.every((r, i) => r.column_name === lite[i]);
    if (!same) throw new DatabaseError('schema_mismatch', `table ${name} has other columns in Postgres than in SQLite: the two schemas differ (test/postgres/migrations.test.ts checks they do not)`);
    return { name, columns: pg.map((r) => ({ name: r.column_name, type: r.data_type })) };
  });
}

async function copyTable(src: Database.Database, c: PoolClient, t: Table): Promise<void> {
  const cols = t.columns.map((col) => col.name).join(', ');
  // rowid order: models then get `seq` in the order SQLite inserted them
  const rows = src.prepare(`SELECT ${cols} FROM ${t.name} ORDER BY rowid`).raw(true).iterate() as IterableIterator<unknown[]>;
  let batch: unknown[][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const values: unknown[] = [];
    const tuples = batch.map((row) => `(${row.map((v, i) => {
      const col = t.columns[i]!;
      values.push(toPostgres(col.type, v));
      return `$${values.length}${col.type === 'jsonb' || col.type === 'json' ? `::${col.type}` : ''}`;
    }).join(', ')})`);
    await c.query(`INSERT INTO ${t.name} (${cols}) VALUES ${tuples.join(', ')}`, values);
    batch = [];
  };
  for (const row of rows) {
    batch.push(row);
    if (batch.length >= BATCH_ROWS) await flush();
  }
  await flush();
}

async function sums(src: Database.Database, c: PoolClient, t: Table): Promise<{ sqlite: TableSum; postgres: TableSum }> {
  const cols = t.columns.map((col) => col.name).join(', ');
  const sqlite = new TableSum();
  for (const row of src.prepare(`SELECT ${cols} FROM ${t.name}`).raw(true).iterate() as IterableIterator<unknown[]>) {
    sqlite.add(row.map((v, i) => canonical(t.columns[i]!.type, v, 'sqlite')));
  }
  // a cursor: a big table is read in slices, never all at once
  const postgres = new TableSum();
  await c.query(`DECLARE rapport_verify NO SCROLL CURSOR FOR SELECT ${cols} FROM ${t.name}`);
  for (;;) {
    const { rows } = await c.query<Record<string, unknown>>(`FETCH ${FETCH_ROWS} FROM rapport_verify`);
    for (const row of rows) postgres.add(t.columns.map((col) => canonical(col.type, row[col.name], 'postgres')));
    if (rows.length < FETCH_ROWS) break;
  }
  await c.query('CLOSE rapport_verify');
  return { sqlite, postgres };
}

/** Counts and checksums every table on both sides (inside the copy's transaction); throws `copy_mismatch`. */
export async function verifyTables(src: Database.Database, c: PoolClient, tables: readonly Table[]): Promise<TableResult[]> {
  const out: TableResult[] = [];
  const bad: { table: string; sqlite: { rows: number; checksum: string }; postgres: { rows: number; checksum: string } }[] = [];
  for (const t of tables) {
    const s = await sums(src, c, t);
    if (s.sqlite.rows !== s.postgres.rows || s.sqlite.hex !== s.postgres.hex) {
      bad.push({ table: t.name, sqlite: { rows: s.sqlite.rows, checksum: s.sqlite.hex }, postgres: { rows: s.postgres.rows, checksum: s.postgres.hex } });
    }
    out.push({ table: t.name, rows: s.postgres.rows, checksum: s.postgres.hex });
  }
  if (bad.length > 0) {
    const list = bad.map((b) => `${b.table} (SQLite ${b.sqlite.rows} rows, Postgres ${b.postgres.rows}${b.sqlite.rows === b.postgres.rows ? ', checksums differ' : ''})`).join(', ');
    throw new DatabaseError('copy_mismatch', `the copy does not match the SQLite file in ${list}: nothing was committed`, bad);
  }
  return out;
}

export type CopyOptions = {
  /** SQLite file */
  from: string;
  /** postgres:// URL */
  to: string;
  /** called after each table is copied */
  onTable?: (table: string, rows: number) => void;
  /** test hook: runs inside the transaction after the copy, before verification */
  beforeVerify?: (c: PoolClient) => Promise<void>;
};

/**
 * Copies every table of a SQLite store at the current schema version into an empty Postgres
 * database (migrated first), verifies it and commits; or changes nothing and throws a
 * DatabaseError: `source_missing`, `source_schema`, `target_not_empty`, `copy_mismatch`.
 */
export async function copySqliteToPostgres(opts: CopyOptions): Promise<CopyResult> {
  const t0 = performance.now();
  if (!existsSync(opts.from)) throw new DatabaseError('source_missing', `${opts.from} does not exist: name the SQLite file to copy with --from (default RAPPORT_DB)`);
  const src = new Database(opts.from, { readonly: true, fileMustExist: true });
  let pool: Pool | undefined;
  try {
    const version = src.pragma('user_version', { simple: true }) as number;
    if (version !== SCHEMA_VERSION) {
      throw new DatabaseError(
        'source_schema',
        `${opts.from} is at schema version ${version}, this Rapport copies version ${SCHEMA_VERSION}: ` +
          (version < SCHEMA_VERSION ? `open it once with this Rapport first (e.g. RAPPORT_DB=${opts.from} rapport status), then copy` : 'it was written by a newer Rapport: upgrade Rapport'),
      );
    }
    pool = createPool(opts.to, { max: 1, statementTimeoutMs: 0, applicationName: 'rapport-db-copy' });
    await migrate(pool, opts.to);
    const tables = await withTransaction(pool, async (c) => {
      // the SQLite side of a big table's checksum is computed between two statements: the pool's
      // idle-in-transaction limit (60 s) must not end the copy meanwhile
      await c.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const tables = await tablesOf(src, c);
      const filled: string[] = [];
      for (const t of tables) if ((await c.query(`SELECT 1 FROM ${t.name} LIMIT 1`)).rows.length > 0) filled.push(t.name);
      if (filled.length > 0) {
        throw new DatabaseError('target_not_empty', `${redactUrl(opts.to)} already holds data (${filled.join(', ')}): copy into an empty database`, { tables: filled });
      }
      for (const t of tables) {
        await copyTable(src, c, t);
        opts.onTable?.(t.name, (src.prepare(`SELECT count(*) AS n FROM ${t.name}`).get() as { n: number }).n);
      }
      // explicit ids do not move the identity's sequence: the next sync run must follow the copied ones
      await c.query("SELECT setval(pg_get_serial_sequence('sync_runs', 'id'), GREATEST(1, (SELECT max(id) FROM sync_runs)), (SELECT max(id) FROM sync_runs) IS NOT NULL)");
      await opts.beforeVerify?.(c);
      return verifyTables(src, c, tables);
    });
    return { from: opts.from, to: redactUrl(opts.to), tables, ms: Math.round(performance.now() - t0) };
  } finally {
    src.close();
    await pool?.end();
  }
}
