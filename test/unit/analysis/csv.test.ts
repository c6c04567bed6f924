import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataError, findColumn, parseCsv, readCsvFile, requireColumn } from '../../../src/analysis/csv.ts';
import { tempDir } from '../../support/temp-dir.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'analysis');

function errorOf(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error('expected a DataError');
}

let dir: { path: string; cleanup: () => void } | undefined;
afterEach(() => {
  dir?.cleanup();
  dir = undefined;
});

describe('parseCsv (RFC 4180)', () => {
  it('reads quoted fields with doubled quotes, embedded delimiters and newlines, CRLF and a BOM', () => {
    const t = readCsvFile(join(FIXTURES, 'quoted-crlf-bom.csv'));
    expect(t.header).toEqual(['customer', 'note', 'plan']);
    expect(t.rows).toEqual([
      ['A-1', 'said "hi", then\r\nleft', 'Pro'],
      ['A-2', 'plain', 'Basic'],
    ]);
    // The first record spans lines 2–3; the blank line 4 is skipped; the next record starts on line 5.
    expect(t.lines).toEqual([2, 5]);
    expect(t.delimiter).toBe(',');
    expect(t.notices).toEqual([]);
  });

  it('accepts LF, lone CR, no final newline, an empty last field and empty quoted fields', () => {
    expect(parseCsv('a,b\n1,2\n3,').rows).toEqual([
      ['1', '2'],
      ['3', ''],
    ]);
    expect(parseCsv('a,b\r1,2\r3,4\r').rows).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(parseCsv('a,b,c\n"",x,""\n').rows).toEqual([['', 'x', '']]);
    expect(parseCsv('a,b\n"1"\t, "2"  \n').rows).toEqual([['1', '2']]);
  });

  it('sniffs ; and tab delimiters from the header line (ignoring quoted ones)', () => {
    const semi = parseCsv('"name, full";amount;plan\n"Doe, J";1,5;Pro\n');
    expect(semi.delimiter).toBe(';');
    expect(semi.rows).toEqual([['Doe, J', '1,5', 'Pro']]);
    const tab = parseCsv('a\tb\n1\t2\n');
    expect(tab.delimiter).toBe('\t');
    expect(tab.rows).toEqual([['1', '2']]);
  });

  it('names unnamed header columns (R / pandas row names) with a notice', () => {
    const t = parseCsv('"","admit"\n"1","0"\n');
    expect(t.header).toEqual(['column_1', 'admit']);
    expect(t.notices[0]).toContain('column 1 has no name');
  });

  it('rejects an empty file', () => {
    expect(errorOf(() => parseCsv('')).message).toMatch(/empty/);
    expect(errorOf(() => parseCsv('\uFEFF \r\n\n')).message).toMatch(/empty/);
  });

  it('names the line of an unclosed quote, where it opened', () => {
    const e = errorOf(() => parseCsv('a,b\n1,2\n3,"never closed\n4,5\n'));
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/^line 3: a quoted field \(column 2\) is never closed/);
  });

  it('names the line of a stray quote in an unquoted field and of text after a closing quote', () => {
    const stray = errorOf(() => parseCsv('a,b\n1,2\n3,5" screen\n'));
    expect(stray.line).toBe(3);
    expect(stray.message).toMatch(/quote inside an unquoted field \(column 2\)/);
    const after = errorOf(() => parseCsv('a,b\n"x\ny"z,2\n'));
    expect(after.line).toBe(3);
    expect(after.message).toMatch(/after the closing quote/);
  });

  it('names the line of a row with the wrong number of fields, counting quoted newlines', () => {
    const e = errorOf(() => parseCsv('a,b,c\n1,"two\nlines",3\n4,5\n'));
    expect(e.line).toBe(4);
    expect(e.message).toBe('line 4: 2 fields, but the header has 3 columns');
    const more = errorOf(() => parseCsv('a,b\n1,2,3\n'));
    expect(more.message).toMatch(/3 fields, but the header has 2 columns \(an unquoted "," inside a value\?\)/);
  });

  it('rejects a header naming a column twice', () => {
    expect(errorOf(() => parseCsv('id,plan,id\n1,2,3\n')).message).toBe('line 1: the header names "id" twice (columns 1 and 3)');
  });

  it('finds columns exactly, then case-insensitively; a missing one lists the columns', () => {
    expect(findColumn(['Churn', 'T', 't'], 'churn')).toBe(0);
    expect(findColumn(['Churn', 'T', 't'], 't')).toBe(2);
    expect(findColumn(['a', 'A'], 'B')).toBe(-1);
    expect(errorOf(() => requireColumn(['id', 'plan'], 'churn', 'label')).message).toBe('no label column "churn"; the columns are "id", "plan"');
  });
});

describe('readCsvFile', () => {
  it('reports a missing file', () => {
    expect(errorOf(() => readCsvFile('/nonexistent/x.csv')).message).toBe('/nonexistent/x.csv: no such file');
  });

  it('reads Latin-1 exports with a notice and refuses UTF-16', () => {
    dir = tempDir('rapport-csv-');
    const latin1 = join(dir.path, 'latin1.csv');
    writeFileSync(latin1, Buffer.from('name,city\nRen\xe9,K\xf6ln\n', 'latin1'));
    const t = readCsvFile(latin1);
    expect(t.rows).toEqual([['René', 'Köln']]);
    expect(t.notices).toEqual(['the file is not valid UTF-8; read it as Latin-1']);
    const utf16 = join(dir.path, 'utf16.csv');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n1,2\n', 'utf16le')]));
    expect(errorOf(() => readCsvFile(utf16)).message).toMatch(/UTF-16/);
  });
});
