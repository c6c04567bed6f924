import { DATA_ISSUE_CODES, type DataIssue } from '../connectors/types.ts';

const CODES: ReadonlySet<string> = new Set(DATA_ISSUE_CODES);
const NONE: readonly DataIssue[] = [];

/**
 * A cached record's data issues as the store returns them. Rows written before issues became data
 * (issue 12) hold strings `<code>` or `<code>:<CRM property>`: the code is kept, the field is not
 * (it named a CRM's property, which no reader may show), so it reads `<type>.other`. Anything
 * else in the column is dropped rather than shown.
 */
export function readIssues(raw: unknown, type: string): readonly DataIssue[] {
  if (!Array.isArray(raw) || raw.length === 0) return NONE;
  const out: DataIssue[] = [];
  for (const v of raw) {
    if (typeof v === 'string') {
      const code = v.split(':', 1)[0] ?? '';
      if (CODES.has(code)) out.push({ code: code as DataIssue['code'], field: `${type}.other` });
    } else if (typeof v === 'object' && v !== null && typeof (v as DataIssue).code === 'string' && CODES.has((v as DataIssue).code) && typeof (v as DataIssue).field === 'string') {
      out.push({ code: (v as DataIssue).code, field: (v as DataIssue).field });
    }
  }
  return out;
}
