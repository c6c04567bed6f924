/**
 * A strict CSV reader for customer exports (RFC 4180): quoted fields with doubled quotes ("")
 * and embedded delimiters or newlines, CRLF / LF / CR line ends, an optional UTF-8 byte-order
 * mark, a header row. Excel in many locales writes `;` instead of `,`, and some tools write tabs,
 * so the delimiter is sniffed from the header line. Anything malformed is a `DataError` that
 * names the line (1-based, as an editor shows it), never a silently shifted column.
 */
import { readFileSync } from 'node:fs';

/** Bad input data (malformed CSV, missing column, unusable values): the message is for the user. */
export class DataError extends Error {
  override name = 'DataError';
  /** 1-based line of the file where the problem is, when there is one */
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.line = line;
  }
}

export type CsvTable = {
  /** column names as written in the header, trimmed */
  header: string[];
  /** data rows, each exactly header.length fields, values as written (not trimmed) */
  rows: string[][];
  /** the 1-based file line where each row starts (quoted newlines make rows span lines) */
  lines: number[];
  delimiter: ',' | ';' | '\t';
  /** things the reader worked around, for the user (e.g. not UTF-8) */
  notices: string[];
};

/** Reads and parses a CSV file; a missing or unreadable file is a DataError too. */
export function readCsvFile(path: string): CsvTable {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${(e as Error).message})`);
  }
  const notices: string[] = [];
  const text = decode(bytes, notices);
  const table = parseCsv(text);
  table.notices.unshift(...notices);
  return table;
}

function decode(bytes: Buffer, notices: string[]): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new DataError('the file is UTF-16 encoded; save it as UTF-8 (CSV UTF-8 in Excel)');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Older Excel exports are Windows-1252/Latin-1; reading them as such keeps every byte.
    notices.push('the file is not valid UTF-8; read it as Latin-1');
    return new TextDecoder('latin1').decode(bytes);
  }
}

/** Parses CSV text (header + rows). Empty input, ragged rows and broken quoting throw a DataError. */
export function parseCsv(input: string): CsvTable {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (text.trim().length === 0) throw new DataError('the file is empty (expected a header row and data rows)');
  const delimiter = sniffDelimiter(text);

  const records: { fields: string[]; line: number }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  let fields: string[] = [];
  let recordLine = 1;

  const endRecord = () => {
    // A blank line (one empty or whitespace-only field) separates nothing: skip it.
    if (!(fields.length === 1 && (fields[0] as string).trim() === '')) records.push({ fields, line: recordLine });
    fields = [];
  };

  while (i <= n) {
    if (fields.length === 0) recordLine = line;
    // Leading spaces before an opening quote are tolerated (`a, "b"`), as most readers do.
    let j = i;
    while (j < n && (text[j] === ' ' || text[j] === '\t') && text[j] !== delimiter) j++;
    if (j < n && text[j] === '"') {
      const openedAt = line;
      let value = '';
      let k = j + 1;
      for (;;) {
        const q = text.indexOf('"', k);
        if (q < 0) {
          throw new DataError(`a quoted field (column ${fields.length + 1}) is never closed`, openedAt);
        }
        const chunk = text.slice(k, q);
        line += countNewlines(chunk);
        value += chunk;
        if (text[q + 1] === '"') {
          value += '"';
          k = q + 2;
          continue;
        }
        k = q + 1;
        break;
      }
      // After the closing quote only spaces, then a delimiter or the end of the line.
      while (k < n && (text[k] === ' ' || (text[k] === '\t' && delimiter !== '\t'))) k++;
      const c = text[k];
      fields.push(value);
      if (k >= n) {
        endRecord();
        break;
      }
      if (c === delimiter) {
        i = k + 1;
        if (i === n) {
          fields.push('');
          endRecord();
          break;
        }
        continue;
      }
      if (c === '\r' || c === '\n') {
        i = k + (c === '\r' && text[k + 1] === '\n' ? 2 : 1);
        line++;
        endRecord();
        if (i >= n) break;
        continue;
      }
      throw new DataError(
        `unexpected ${JSON.stringify(c)} after the closing quote of column ${fields.length}; a quote inside a quoted field must be doubled ("")`,
        line,
      );
    }
    // Unquoted field: up to the next delimiter or line end.
    let k = i;
    while (k < n) {
      const c = text[k];
      if (c === delimiter || c === '\n' || c === '\r') break;
      if (c === '"') {
        throw new DataError(
          `a quote inside an unquoted field (column ${fields.length + 1}); quote the whole field and double the inner quote ("")`,
          line,
        );
      }
      k++;
    }
    fields.push(text.slice(i, k));
    if (k >= n) {
      endRecord();
      break;
    }
    if (text[k] === delimiter) {
      i = k + 1;
      if (i === n) {
        fields.push('');
        endRecord();
        break;
      }
      continue;
    }
    i = k + (text[k] === '\r' && text[k + 1] === '\n' ? 2 : 1);
    line++;
    endRecord();
    if (i >= n) break;
  }

  const [head, ...body] = records;
  if (head === undefined) throw new DataError('the file is empty (expected a header row and data rows)');
  const notices: string[] = [];
  // R's write.csv and pandas' to_csv leave the row-name column unnamed: name it, do not fail.
  const header = head.fields.map((h, c) => {
    const name = h.trim();
    if (name !== '') return name;
    notices.push(`the header's column ${c + 1} has no name; calling it "column_${c + 1}"`);
    return `column_${c + 1}`;
  });
  const seen = new Map<string, number>();
  header.forEach((name, c) => {
    const previous = seen.get(name);
    if (previous !== undefined) {
      throw new DataError(`the header names "${name}" twice (columns ${previous + 1} and ${c + 1})`, head.line);
    }
    seen.set(name, c);
  });
  const rows: string[][] = [];
  const lines: number[] = [];
  for (const r of body) {
    if (r.fields.length !== header.length) {
      throw new DataError(
        `${r.fields.length} fields, but the header has ${header.length} columns` +
          (r.fields.length > header.length ? ` (an unquoted "${delimiter === '\t' ? '\\t' : delimiter}" inside a value?)` : ''),
        r.line,
      );
    }
    rows.push(r.fields);
    lines.push(r.line);
  }
  return { header, rows, lines, delimiter, notices };
}

function countNewlines(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\n') count++;
    else if (c === '\r' && s[i + 1] !== '\n') count++;
  }
  return count;
}

/** The most frequent of `,` `;` tab on the header line (outside quotes); `,` when none occurs. */
function sniffDelimiter(text: string): ',' | ';' | '\t' {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) break;
    else if (!quoted && (c === ',' || c === ';' || c === '\t')) counts[c]++;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  if (counts['\t'] > counts[','] && counts['\t'] > counts[';']) return '\t';
  return ',';
}

/** Finds a column by exact name, else by a unique case-insensitive match; -1 when absent. */
export function findColumn(header: readonly string[], name: string): number {
  const exact = header.indexOf(name);
  if (exact >= 0) return exact;
  const lower = name.trim().toLowerCase();
  const matches = header.flatMap((h, i) => (h.toLowerCase() === lower ? [i] : []));
  return matches.length === 1 ? (matches[0] as number) : -1;
}

/** Like findColumn, but a missing column is a DataError listing the columns there are. */
export function requireColumn(header: readonly string[], name: string, role: string): number {
  const index = findColumn(header, name);
  if (index < 0) {
    const shown = header.slice(0, 30).map((h) => `"${h}"`).join(', ');
    throw new DataError(`no ${role} column "${name}"; the columns are ${shown}${header.length > 30 ? ', …' : ''}`);
  }
  return index;
}
