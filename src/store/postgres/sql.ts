import type { QueryResult, QueryResultRow } from 'pg';
import type { Pool, PoolClient } from './pool.ts';

/** Where a statement runs: the pool (one statement, autocommit) or a transaction's client. */
export type Queryable = Pool | PoolClient;

/**
 * A named, parameterised statement: node-postgres prepares it once per connection under `name`
 * and then sends only the values (https://node-postgres.com/features/queries#prepared-statements).
 * Values never become SQL text.
 */
export function statement<R extends QueryResultRow = QueryResultRow>(name: string, text: string) {
  return (q: Queryable, values: readonly unknown[] = []): Promise<QueryResult<R>> =>
    q.query<R>({ name: `rapport_${name}`, text, values: values.map((v) => (Array.isArray(v) ? arrayLiteral(v) : v)) });
}

/**
 * A flat array of strings, finite numbers, booleans and nulls as the text of a Postgres array
 * literal, written by JSON.stringify: where no element needed a JSON escape (no quote, backslash
 * or control character), `["a",1,null]` and the literal `{"a",1,null}` quote alike
 * (https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO; NULL is case-insensitive).
 * Hand-written for speed: node-postgres escapes element by element with two regular expressions,
 * 470 ms of a bench:scale worker's 7.5 CPU-s at 220,000 records, about 2.5 times this for strings.
 * Anything else (an escape, a nested array, a Date, NaN) is left to node-postgres.
 */
export function arrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  for (const v of values) {
    const t = typeof v;
    if (!(t === 'string' || t === 'boolean' || v === null || v === undefined || (t === 'number' && Number.isFinite(v)))) return values;
  }
  const json = JSON.stringify(values);
  return json.includes('\\') ? values : `{${json.slice(1, -1)}}`;
}

/**
 * Splits items into rounds in which no key repeats, keeping their order: a multi-row
 * `INSERT … ON CONFLICT DO UPDATE` may not touch one row twice, and a later item for the same key
 * must see the earlier one, as it would row by row.
 */
export function rounds<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const out: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    const round = seen.get(k) ?? 0;
    seen.set(k, round + 1);
    (out[round] ??= []).push(item);
  }
  return out;
}

/**
 * JSON text that JSONB accepts. JSONB refuses the NUL character (`\u0000`) that SQLite's TEXT
 * keeps, and a lone surrogate (half of an emoji cut in two), which JSON.stringify writes as an
 * escape rather than failing (https://tc39.es/proposal-well-formed-stringify/): both become
 * U+FFFD, the replacement character, rather than failing a whole page of records
 * (https://www.postgresql.org/docs/current/datatype-json.html). Record data is stored as JSON
 * text, but compared as JSONB (records.ts), and report queries read inside it.
 */
export function jsonText(value: unknown): string {
  return jsonbSafe(JSON.stringify(value));
}

/** `jsonText` for what JSON.stringify already wrote (a score row's detail, serialised by a worker thread). */
export function jsonbSafe(s: string): string {
  // an escape is `\uXXXX` after an even number of backslashes (an odd one is a literal backslash)
  let out = s.includes('\\u0000') ? s.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : s;
  // JSON.stringify writes a surrogate as an escape only when it is alone (a pair is written as is)
  if (out.includes('\\ud')) out = out.replace(/(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/gi, '$1\\ufffd');
  return out;
}

/**
 * JSON texts as one JSON array parameter, zipped with the other columns' arrays:
 * `ROWS FROM (unnest($1::text[]), json_array_elements($2::json), …)`
 * (https://www.postgresql.org/docs/current/queries-table-expressions.html#QUERIES-TABLEFUNCTIONS).
 * A text[] of JSON costs an escaping pass here and an array parse on the server (measured ~40 %
 * slower for 2,000 score details of ~1 KB); the array's syntax is checked once and each element
 * kept as its text for a JSON column (records.ts).
 */
export const jsonArray = (texts: readonly string[]): string => `[${texts.join(',')}]`;

/**
 * Values as one text parameter of lines (`string_to_table($n, E'\n')`), each a row's fields
 * joined by tabs (`string_to_array(line, E'\t')`): the server splits it at memchr speed, where a
 * JSON parameter is parsed whole before `json_to_recordset` or `json_array_elements` hands out a
 * value, and a JSON column's value is parsed again (bench:stores: the score upsert's JSON parse
 * was half its server time). For numbers and JSON texts only, which hold no raw tab or newline:
 * JSON.stringify escapes both inside strings, and elsewhere in JSON they are insignificant
 * whitespace (RFC 8259 §2), made spaces here. Free text (ids, names) goes as a text[] parameter.
 */
export const lines = (rows: readonly string[]): string => rows.join('\n');
/** A JSON text as a field of `lines`. */
export const jsonField = (s: string): string => (s.includes('\n') || s.includes('\t') ? s.replace(/[\t\n]/g, ' ') : s);

