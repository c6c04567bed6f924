import { fieldOf, sobjectOf, type FieldDef, type SObjectDef } from './objects.ts';
import type { FieldValue, Row } from './storage.ts';

/**
 * The SOQL subset Rapport's connector sends, parsed strictly (no general SOQL):
 *
 *   SELECT f1, f2, (SELECT g FROM ChildRelationship) FROM Obj
 *   [WHERE <comparisons joined by AND / OR / NOT, parentheses>] [ORDER BY f [ASC|DESC], …] [LIMIT n]
 *
 * Comparisons: = != <> < <= > >= and IN (…), against 'strings', numbers, true/false/null, date
 * (2026-01-05) and datetime (2026-01-05T09:00:00Z, …+00:00, optional .sss) literals. Anything
 * else is a MALFORMED_QUERY; unknown fields INVALID_FIELD; unknown objects INVALID_TYPE — the
 * errorCodes Salesforce uses (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
 */
export class SoqlError extends Error {
  constructor(
    readonly errorCode: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE',
    message: string,
  ) {
    super(message);
  }
}

type Literal = { kind: 'string'; v: string } | { kind: 'number'; v: number } | { kind: 'bool'; v: boolean } | { kind: 'null' } | { kind: 'date'; v: string } | { kind: 'datetime'; v: number };
export type Condition =
  | { op: 'and' | 'or'; args: Condition[] }
  | { op: 'not'; arg: Condition }
  | { op: 'cmp'; field: FieldDef; cmp: '=' | '!=' | '<' | '<=' | '>' | '>='; value: Literal }
  | { op: 'in'; field: FieldDef; values: Literal[] };
export type SubQuery = { relationship: string; child: SObjectDef; parentField: string; fields: FieldDef[]; where: Condition | null };
export type Soql = {
  sobject: SObjectDef;
  fields: FieldDef[];
  subqueries: SubQuery[];
  where: Condition | null;
  orderBy: { field: FieldDef; desc: boolean }[];
  limit: number | null;
  /** `SELECT COUNT() FROM …`: the answer is the number of rows, in totalSize, with no records
   * (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_count.htm) */
  count: boolean;
};

type Token = { t: 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'punct'; v: string };

const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/;
const DATE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER = /^-?\d+(?:\.\d+)?/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    const ws = /^\s+/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const ch = src[i]!;
    if (ch === "'") {
      let v = '';
      let j = i + 1;
      for (; j < src.length; j++) {
        const c = src[j]!;
        if (c === '\\') {
          const n = src[++j];
          if (n === undefined) break;
          v += n === 'n' ? '\n' : n === 't' ? '\t' : n;
        } else if (c === "'") break;
        else v += c;
      }
      if (j >= src.length) throw new SoqlError('MALFORMED_QUERY', 'unterminated string literal');
      out.push({ t: 'string', v });
      i = j + 1;
      continue;
    }
    const m = DATETIME.exec(rest) ?? null;
    if (m) {
      out.push({ t: 'datetime', v: m[0] });
      i += m[0].length;
      continue;
    }
    const d = DATE.exec(rest);
    if (d) {
      out.push({ t: 'date', v: d[0] });
      i += d[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      out.push({ t: 'number', v: num[0] });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (id) {
      out.push({ t: 'ident', v: id[0] });
      i += id[0].length;
      continue;
    }
    const p = /^(?:<=|>=|!=|<>|[(),=<>])/.exec(rest);
    if (p) {
      out.push({ t: 'punct', v: p[0] === '<>' ? '!=' : p[0] });
      i += p[0].length;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', `unexpected character '${ch}' at ${i}`);
  }
  return out;
}

/**
 * What the running user can see: objects the org lacks (a feature off, a package not installed) and
 * fields hidden by field-level security are unknown to SOQL, with the same errors as a typo.
 */
export type SoqlAccess = { hasObject(name: string): boolean; hasField(obj: string, field: string): boolean };
const EVERYTHING: SoqlAccess = { hasObject: () => true, hasField: () => true };

export function parseSoql(src: string, access: SoqlAccess = EVERYTHING): Soql {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isKw = (kw: string, tok = peek()): boolean => tok?.t === 'ident' && tok.v.toUpperCase() === kw;
  const expectKw = (kw: string) => {
    if (!isKw(kw)) throw new SoqlError('MALFORMED_QUERY', `expected ${kw} near '${peek()?.v ?? 'end of query'}'`);
    pos++;
  };
  const expectPunct = (p: string) => {
    const tok = peek();
    if (tok?.t !== 'punct' || tok.v !== p) throw new SoqlError('MALFORMED_QUERY', `expected '${p}' near '${tok?.v ?? 'end of query'}'`);
    pos++;
  };
  const ident = (): string => {
    const tok = peek();
    if (tok?.t !== 'ident') throw new SoqlError('MALFORMED_QUERY', `expected a name near '${tok?.v ?? 'end of query'}'`);
    pos++;
    return tok.v;
  };
  const fieldIn = (obj: SObjectDef, name: string): FieldDef => {
    const field = fieldOf(obj, name);
    if (field === undefined || !access.hasField(obj.name, field.name)) throw new SoqlError('INVALID_FIELD', `No such column '${name}' on entity '${obj.name}'.`);
    return field;
  };

  const literal = (): Literal => {
    const tok = peek();
    pos++;
    if (tok === undefined) throw new SoqlError('MALFORMED_QUERY', 'expected a value at end of query');
    switch (tok.t) {
      case 'string':
        return { kind: 'string', v: tok.v };
      case 'number':
        return { kind: 'number', v: Number(tok.v) };
      case 'date':
        return { kind: 'date', v: tok.v };
      case 'datetime':
        return { kind: 'datetime', v: Date.parse(tok.v) };
      case 'ident': {
        const u = tok.v.toUpperCase();
        if (u === 'TRUE' || u === 'FALSE') return { kind: 'bool', v: u === 'TRUE' };
        if (u === 'NULL') return { kind: 'null' };
        break;
      }
      default:
        break;
    }
    throw new SoqlError('MALFORMED_QUERY', `unexpected token '${tok.v}' where a value belongs`);
  };

  const condition = (obj: SObjectDef): Condition => {
    const orArgs = [andExpr(obj)];
    while (isKw('OR')) {
      pos++;
      orArgs.push(andExpr(obj));
    }
    return orArgs.length === 1 ? orArgs[0]! : { op: 'or', args: orArgs };
  };
  const andExpr = (obj: SObjectDef): Condition => {
    const args = [unary(obj)];
    while (isKw('AND')) {
      pos++;
      args.push(unary(obj));
    }
    return args.length === 1 ? args[0]! : { op: 'and', args };
  };
  const unary = (obj: SObjectDef): Condition => {
    if (isKw('NOT')) {
      pos++;
      return { op: 'not', arg: unary(obj) };
    }
    const tok = peek();
    if (tok?.t === 'punct' && tok.v === '(') {
      pos++;
      const c = condition(obj);
      expectPunct(')');
      return c;
    }
    const field = fieldIn(obj, ident());
    if (isKw('IN')) {
      pos++;
      expectPunct('(');
      const values = [literal()];
      while (peek()?.v === ',') {
        pos++;
        values.push(literal());
      }
      expectPunct(')');
      return { op: 'in', field, values };
    }
    const op = peek();
    if (op?.t !== 'punct' || !['=', '!=', '<', '<=', '>', '>='].includes(op.v)) {
      throw new SoqlError('MALFORMED_QUERY', `expected a comparison after ${field.name}, found '${op?.v ?? 'end of query'}'`);
    }
    pos++;
    const value = literal();
    checkLiteral(field, value);
    return { op: 'cmp', field, cmp: op.v as '=' | '!=' | '<' | '<=' | '>' | '>=', value };
  };

  const selectList = (): { names: string[]; subs: { rel: string; fields: string[]; whereStart: number }[] } => {
    const names: string[] = [];
    const subs: { rel: string; fields: string[]; whereStart: number }[] = [];
    for (;;) {
      const tok = peek();
      if (tok?.t === 'punct' && tok.v === '(') {
        pos++;
        expectKw('SELECT');
        const fields = [ident()];
        while (peek()?.v === ',') {
          pos++;
          fields.push(ident());
        }
        expectKw('FROM');
        const rel = ident();
        subs.push({ rel, fields, whereStart: pos });
        // the subquery's WHERE is parsed once the child object is known (below)
        let depth = 1;
        while (depth > 0) {
          const t = tokens[pos++];
          if (t === undefined) throw new SoqlError('MALFORMED_QUERY', 'unterminated subquery');
          if (t.t === 'punct' && t.v === '(') depth++;
          if (t.t === 'punct' && t.v === ')') depth--;
        }
      } else names.push(ident());
      if (peek()?.v !== ',') break;
      pos++;
    }
    return { names, subs };
  };

  expectKw('SELECT');
  const count = isKw('COUNT') && tokens[pos + 1]?.v === '(' && tokens[pos + 2]?.v === ')';
  if (count) pos += 3;
  const { names, subs } = count ? { names: [], subs: [] } : selectList();
  expectKw('FROM');
  const objName = ident();
  const found = sobjectOf(objName);
  const sobject = found !== undefined && access.hasObject(found.name) ? found : undefined;
  if (sobject === undefined) throw new SoqlError('INVALID_TYPE', `sObject type '${objName}' is not supported.`);
  const fields = names.map((n) => fieldIn(sobject, n));
  let where: Condition | null = null;
  if (isKw('WHERE')) {
    pos++;
    where = condition(sobject);
  }
  const orderBy: Soql['orderBy'] = [];
  if (isKw('ORDER')) {
    pos++;
    expectKw('BY');
    for (;;) {
      const field = fieldIn(sobject, ident());
      let desc = false;
      if (isKw('ASC')) pos++;
      else if (isKw('DESC')) {
        pos++;
        desc = true;
      }
      orderBy.push({ field, desc });
      if (peek()?.v !== ',') break;
      pos++;
    }
  }
  let limit: number | null = null;
  if (isKw('LIMIT')) {
    pos++;
    const tok = peek();
    if (tok?.t !== 'number' || !/^\d+$/.test(tok.v)) throw new SoqlError('MALFORMED_QUERY', 'LIMIT needs a whole number');
    pos++;
    limit = Number(tok.v);
  }
  if (pos < tokens.length) throw new SoqlError('MALFORMED_QUERY', `unexpected token '${tokens[pos]!.v}'`);
  const end = pos;

  const subqueries: SubQuery[] = subs.map((s) => {
    const relLower = s.rel.toLowerCase();
    const rel = sobject.childRelationships.find((r) => r.relationshipName.toLowerCase() === relLower && access.hasObject(r.childSObject));
    if (rel === undefined) {
      throw new SoqlError('INVALID_TYPE', `Didn't understand relationship '${s.rel}' in FROM part of query call.`);
    }
    const child = sobjectOf(rel.childSObject)!;
    pos = s.whereStart;
    let subWhere: Condition | null = null;
    if (isKw('WHERE')) {
      pos++;
      subWhere = condition(child);
    }
    expectPunct(')');
    return { relationship: rel.relationshipName, child, parentField: rel.field, fields: s.fields.map((n) => fieldIn(child, n)), where: subWhere };
  });
  pos = end;
  return { sobject, fields, subqueries, where, orderBy, limit, count };
}

function checkLiteral(field: FieldDef, value: Literal): void {
  if (value.kind === 'null') return;
  const wants: Record<string, Literal['kind']> = { datetime: 'datetime', date: 'date', boolean: 'bool', int: 'number', double: 'number', currency: 'number' };
  const want = wants[field.type] ?? 'string';
  if (value.kind !== want) {
    throw new SoqlError('MALFORMED_QUERY', `value of filter criterion for field '${field.name}' must be of type ${field.type} and should not be enclosed in quotes`);
  }
}

const literalValue = (l: Literal): FieldValue => (l.kind === 'null' ? null : l.v);

function compare(a: FieldValue, b: FieldValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export function matches(cond: Condition | null, row: Row): boolean {
  if (cond === null) return true;
  switch (cond.op) {
    case 'and':
      return cond.args.every((c) => matches(c, row));
    case 'or':
      return cond.args.some((c) => matches(c, row));
    case 'not':
      return !matches(cond.arg, row);
    case 'in': {
      const v = row[cond.field.name] ?? null;
      return cond.values.some((l) => literalValue(l) !== null && v !== null && compare(v, literalValue(l)) === 0);
    }
    case 'cmp': {
      const v = row[cond.field.name] ?? null;
      const lit = literalValue(cond.value);
      // SOQL null semantics: `= null` / `!= null` test presence; `!= 'x'` is true for null fields
      if (lit === null) return cond.cmp === '=' ? v === null : cond.cmp === '!=' ? v !== null : false;
      if (v === null) return cond.cmp === '!=';
      const c = compare(v, lit);
      switch (cond.cmp) {
        case '=':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
      }
    }
  }
}

/** ORDER BY with SOQL's default NULLS FIRST for ascending order. */
export function sortRows(rows: Row[], orderBy: Soql['orderBy']): Row[] {
  if (orderBy.length === 0) return rows;
  return [...rows].sort((a, b) => {
    for (const { field, desc } of orderBy) {
      const va = a[field.name] ?? null;
      const vb = b[field.name] ?? null;
      const c = va === null || vb === null ? (va === vb ? 0 : va === null ? -1 : 1) : compare(va, vb);
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  });
}
