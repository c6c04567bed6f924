import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint rules that hold the design together fail on a planted violation (and stay quiet on
 * the allowed form): each row is linted as if it were that file, through eslint.config.js.
 */

type Case = { name: string; filePath: string; code: string; ruleId: string; fails: boolean };

const CASES: Case[] = [
  // only src/connectors/registry.ts imports a CRM's folder (ARCHITECTURE.md §3)
  { name: 'main.ts imports a CRM connector', filePath: 'src/main.ts', code: "import { createHubspotConnector } from './connectors/hubspot/index.ts';\nvoid createHubspotConnector;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'a server route imports a CRM OAuth module', filePath: 'src/server/x.ts', code: "import { exchangeCode } from '../connectors/salesforce/oauth.ts';\nvoid exchangeCode;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'a command imports a CRM mapping', filePath: 'src/commands/x.ts', code: "import { SPECS } from '../connectors/salesforce/mapping.ts';\nvoid SPECS;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'a new CRM folder is covered too', filePath: 'src/sync/x.ts', code: "import { p } from '../connectors/pipedrive/provider.ts';\nvoid p;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'the port imports a CRM folder', filePath: 'src/connectors/clean.ts', code: "import { SPECS } from './salesforce/mapping.ts';\nvoid SPECS;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'one CRM imports another', filePath: 'src/connectors/hubspot/x.ts', code: "import { SPECS } from '../salesforce/mapping.ts';\nvoid SPECS;\n", ruleId: 'no-restricted-imports', fails: true },
  { name: 'the registry imports the CRM folders', filePath: 'src/connectors/registry.ts', code: "import { hubspotProvider } from './hubspot/provider.ts';\nvoid hubspotProvider;\n", ruleId: 'no-restricted-imports', fails: false },
  { name: 'main.ts takes providers from the registry', filePath: 'src/main.ts', code: "import { defaultRegistry } from './connectors/registry.ts';\nvoid defaultRegistry;\n", ruleId: 'no-restricted-imports', fails: false },
  { name: 'a CRM imports its own files and the port', filePath: 'src/connectors/hubspot/x.ts', code: "import { m } from './mapping.ts';\nimport type { CrmConnector } from '../types.ts';\nimport { CrmError } from '../../errors.ts';\nexport type C = CrmConnector;\nvoid m;\nvoid CrmError;\n", ruleId: 'no-restricted-imports', fails: false },
  { name: 'tests may import a CRM folder', filePath: 'test/unit/x.test.ts', code: "import { SPECS } from '../../src/connectors/salesforce/mapping.ts';\nvoid SPECS;\n", ruleId: 'no-restricted-imports', fails: false },
  // the store is a port: no SQL or connection outside src/store (ARCHITECTURE.md §1)
  { name: 'SQL through a store connection outside src/store', filePath: 'src/report/planted.ts', code: "export const n = (store: { db: { prepare(sql: string): unknown } }) => store.db.prepare('SELECT 1');\n", ruleId: 'no-restricted-syntax', fails: true },
  { name: 'a prepared statement on any handle outside src/store', filePath: 'src/scoring/planted.ts', code: "export const n = (conn: { prepare(sql: string): unknown }) => conn.prepare('SELECT COUNT(*) FROM records');\n", ruleId: 'no-restricted-syntax', fails: true },
  { name: 'the store itself talks to its connection', filePath: 'src/store/planted.ts', code: "export const n = (store: { db: { prepare(sql: string): unknown } }) => store.db.prepare('SELECT 1');\n", ruleId: 'no-restricted-syntax', fails: false },
  { name: "a command's --db option is a file name, not a connection", filePath: 'src/commands/planted.ts', code: "export const f = (values: { db: string }) => values.db;\n", ruleId: 'no-restricted-syntax', fails: false },
  // store operations return Promises: a forgotten await fails lint
  { name: 'a forgotten await on a store operation', filePath: 'src/sync/planted.ts', code: "import type { Store } from '../store/index.ts';\nexport async function f(store: Store): Promise<void> {\n  store.cursors.clear('p', 'contacts');\n}\n", ruleId: '@typescript-eslint/no-floating-promises', fails: true },
];

/** the paths of planted files that do not exist (globs without `**`, as typescript-eslint requires) */
const PLANTED = ['src/*/planted.ts', 'src/*/x.ts', 'src/connectors/*/x.ts', 'test/unit/x.test.ts'];

describe('lint rules fail on planted violations', () => {
  // Planted files exist only as text: the type-aware rules (no-floating-promises) get them through
  // typescript-eslint's default project, with the repository's compiler options.
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: {
      // every file, not only the planted ones: typescript-eslint keeps one project service per process
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { projectService: { allowDefaultProject: PLANTED, defaultProject: 'tsconfig.json', maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 32 }, tsconfigRootDir: process.cwd() } },
    },
  });
  it.each(CASES)('$name ($filePath)', async ({ filePath, code, ruleId, fails }) => {
    const [result] = await eslint.lintText(code, { filePath });
    expect(result?.messages.filter((m) => m.fatal === true), 'the planted file must parse').toEqual([]);
    const hits = (result?.messages ?? []).filter((m) => m.ruleId === ruleId);
    if (fails) expect(hits.length, JSON.stringify(result?.messages)).toBeGreaterThan(0);
    else expect(hits, JSON.stringify(result?.messages)).toEqual([]);
  }, 60_000);
});
