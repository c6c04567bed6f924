import { describe, expect, it } from 'vitest';
import { matches, parseSoql, sortRows, SoqlError } from '../../../src/sandbox/salesforce/soql.ts';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof SoqlError) return e.errorCode;
    throw e;
  }
  throw new Error('expected a SoqlError');
};

describe('SOQL subset parser', () => {
  it('parses the connector shape: fields, a child subquery, a keyset WHERE, ORDER BY and LIMIT', () => {
    const q = parseSoql(
      "SELECT Id, SystemModstamp, (SELECT RelationId FROM TaskWhoRelations) FROM Task WHERE (TaskSubtype = 'Task' AND Type != 'Note') AND (SystemModstamp > 2026-01-05T09:00:00Z OR (SystemModstamp = 2026-01-05T09:00:00Z AND Id > '00T5g000000000aAAA')) ORDER BY SystemModstamp, Id LIMIT 450",
    );
    expect(q.sobject.name).toBe('Task');
    expect(q.fields.map((f) => f.name)).toEqual(['Id', 'SystemModstamp']);
    expect(q.subqueries).toMatchObject([{ relationship: 'TaskWhoRelations', parentField: 'TaskId' }]);
    expect(q.orderBy.map((o) => o.field.name)).toEqual(['SystemModstamp', 'Id']);
    expect(q.limit).toBe(450);
    const t = Date.UTC(2026, 0, 5, 9);
    const row = (stamp: number, id: string, type: string | null) => ({ Id: id, SystemModstamp: stamp, TaskSubtype: 'Task', Type: type });
    expect(matches(q.where, row(t, '00T5g000000000bAAA', null))).toBe(true); // same second, later id; null Type passes `!=`
    expect(matches(q.where, row(t, '00T5g0000000000AAA', 'Other'))).toBe(false); // same second, earlier id
    expect(matches(q.where, row(t + 1000, '00T5g0000000000AAA', 'Note'))).toBe(false); // a note
    expect(matches(q.where, row(t + 1000, '00T5g0000000000AAA', 'Call'))).toBe(true);
  });

  it('names what is wrong with the errorCodes Salesforce uses', () => {
    expect(codeOf(() => parseSoql('SELECT Id, Bogus FROM Contact'))).toBe('INVALID_FIELD');
    expect(codeOf(() => parseSoql('SELECT Id FROM Lead'))).toBe('INVALID_TYPE');
    expect(codeOf(() => parseSoql('SELECT Id FROM Contact WHERE'))).toBe('MALFORMED_QUERY');
    expect(codeOf(() => parseSoql("SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01'"))).toBe('MALFORMED_QUERY');
    expect(codeOf(() => parseSoql('SELECT Id FROM Contact GROUP BY Id'))).toBe('MALFORMED_QUERY');
    expect(codeOf(() => parseSoql('SELECT Id, (SELECT Id FROM Nope) FROM Contact'))).toBe('INVALID_TYPE');
  });

  it('sorts NULLS FIRST ascending and honours DESC', () => {
    const q = parseSoql('SELECT Id FROM Contact ORDER BY Email DESC, Id');
    const rows = [{ Id: 'a', Email: null }, { Id: 'b', Email: 'x' }, { Id: 'c', Email: 'y' }];
    expect(sortRows(rows, q.orderBy).map((r) => r.Id)).toEqual(['c', 'b', 'a']);
    const asc = parseSoql('SELECT Id FROM Contact ORDER BY Email');
    expect(sortRows(rows, asc.orderBy).map((r) => r.Id)).toEqual(['a', 'b', 'c']);
  });

  it('reads escaped quotes in string literals and IN lists', () => {
    const q = parseSoql("SELECT Id FROM Contact WHERE LastName IN ('O\\'Brien', 'Smith')");
    expect(matches(q.where, { Id: '1', LastName: "O'Brien" })).toBe(true);
    expect(matches(q.where, { Id: '2', LastName: 'Jones' })).toBe(false);
  });
});
