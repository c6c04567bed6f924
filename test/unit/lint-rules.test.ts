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
];

describe('lint rules fail on planted violations', () => {
  const eslint = new ESLint({ cwd: process.cwd() });
  it.each(CASES)('$name ($filePath)', async ({ filePath, code, ruleId, fails }) => {
    const [result] = await eslint.lintText(code, { filePath });
    const hits = (result?.messages ?? []).filter((m) => m.ruleId === ruleId);
    if (fails) expect(hits.length, JSON.stringify(result?.messages)).toBeGreaterThan(0);
    else expect(hits, JSON.stringify(result?.messages)).toEqual([]);
  });
});
