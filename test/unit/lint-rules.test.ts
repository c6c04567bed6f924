/**
 * The architecture rules in eslint.config.js fail on a planted violation (issue 12, "Must show").
 * One row per case: where the code would live, the code, and the rule that must (or, with
 * `ruleId: null`, must not) report it. Add rows for new rules here.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

type Case = { name: string; filePath: string; code: string; ruleId: string | null; message?: RegExp };

const CASES: Case[] = [
  {
    name: 'SQL through a store connection outside src/store',
    filePath: 'src/report/planted.ts',
    code: "export const n = (store: { db: { prepare(sql: string): unknown } }) => store.db.prepare('SELECT 1');\n",
    ruleId: 'no-restricted-syntax',
    message: /Only src\/store talks to the database/,
  },
  {
    name: 'a prepared statement on any handle outside src/store',
    filePath: 'src/scoring/planted.ts',
    code: "export const n = (conn: { prepare(sql: string): unknown }) => conn.prepare('SELECT COUNT(*) FROM records');\n",
    ruleId: 'no-restricted-syntax',
    message: /SQL belongs in src\/store/,
  },
  {
    name: 'the same code inside src/store is the store itself',
    filePath: 'src/store/planted.ts',
    code: "export const n = (store: { db: { prepare(sql: string): unknown } }) => store.db.prepare('SELECT 1');\n",
    ruleId: null,
  },
  {
    name: 'a forgotten await on a store operation',
    filePath: 'src/sync/planted.ts',
    code: "import type { Store } from '../store/index.ts';\nexport async function f(store: Store): Promise<void> {\n  store.cursors.clear('p', 'contacts');\n}\n",
    ruleId: '@typescript-eslint/no-floating-promises',
  },
];

describe('lint rules fail on planted violations', () => {
  // The planted files exist only as text: the type-aware rules get them through typescript-eslint's
  // default project, with the repository's compiler options.
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: {
      files: ['src/*/planted.ts'],
      languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['src/*/planted.ts'], defaultProject: 'tsconfig.json' } } },
    },
  });
  for (const c of CASES) {
    it(`${c.name} (${c.filePath})`, async () => {
      const [result] = await eslint.lintText(c.code, { filePath: c.filePath });
      const fatal = result?.messages.filter((m) => m.fatal === true) ?? [];
      expect(fatal, 'the planted file must parse').toEqual([]);
      const hits = (result?.messages ?? []).filter((m) => c.ruleId !== null && m.ruleId === c.ruleId && (c.message === undefined || c.message.test(m.message)));
      if (c.ruleId === null) {
        expect(result?.messages.filter((m) => m.ruleId === 'no-restricted-syntax')).toEqual([]);
      } else {
        expect(hits.length, JSON.stringify(result?.messages.map((m) => `${m.ruleId}: ${m.message}`))).toBeGreaterThan(0);
      }
    }, 60_000);
  }
});
