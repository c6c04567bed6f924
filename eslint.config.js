// Lint rules, including the import direction of ARCHITECTURE.md §2.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import regexp from 'eslint-plugin-regexp';

const layer = (g) => ({
  group: [`**/${g}/**`, `**/${g}.ts`],
  message: `This layer must not import from ${g} (ARCHITECTURE.md §2: data flows one way).`,
});

/**
 * CRM code lives in src/connectors/<crm>/ and only src/connectors/registry.ts imports it
 * (ARCHITECTURE.md §3): everything else asks the registry for a provider.
 */
const CRM_MESSAGE = 'Only src/connectors/registry.ts imports a CRM\'s folder (src/connectors/<crm>/): take the provider from the registry (ARCHITECTURE.md §3).';
/** from anywhere in src outside src/connectors */
const crmFolder = { regex: '(^|/)connectors/[^/]+/', message: CRM_MESSAGE };
/** from src/connectors/*.ts (the port, shared helpers): a sibling folder */
const crmFolderFromPort = { regex: '^\\./[^/]+/', message: CRM_MESSAGE };
/** from src/connectors/<crm>/**: another CRM's folder */
const otherCrmFolder = { regex: '^\\.\\./(?!\\.\\.?/)[^/]+/', message: 'One CRM\'s code does not import another\'s: share through src/connectors/*.ts (ARCHITECTURE.md §3).' };

const restrict = (...patterns) => ({
  'no-restricted-imports': ['error', { patterns: patterns.map((p) => (typeof p === 'string' ? layer(p) : p)) }],
});

const PROCESS_ENV = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message: 'Only src/config.ts reads process.env; take a Config instead.',
};
// The store is a port (ARCHITECTURE.md §2): no connection, statement or pragma outside src/store.
// `values.db` is a command's --db option (a file name), not a connection.
const STORE_ONLY = [
  {
    selector: "MemberExpression[property.name='db']:not([object.name='values'])",
    message: 'Only src/store talks to the database: add an operation to the store port (src/store/port.ts) instead.',
  },
  {
    selector: "CallExpression[callee.property.name=/^(prepare|pragma)$/]",
    message: 'SQL belongs in src/store: add an operation to the store port (src/store/port.ts) instead.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'ui-extension/**/node_modules/**', 'data/**', 'test-artifacts/**', 'ui-extension/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', PROCESS_ENV],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/store/**', 'src/sandbox/**'],
    rules: { 'no-restricted-syntax': ['error', PROCESS_ENV, ...STORE_ONLY] },
  },
  {
    // Store operations return Promises (an asynchronous driver can follow): a forgotten await
    // would drop a write or an error silently.
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // ReDoS (issue 15 item 3): no pattern in src may backtrack super-linearly on any input
    files: ['src/**/*.ts'],
    plugins: { regexp },
    rules: { 'regexp/no-super-linear-backtracking': 'error' },
  },
  {
    // where patterns run over CRM text or user files, an unanchored pattern must not be quadratic
    // either (it is retried from every position); elsewhere they only see our own config values
    files: ['src/connectors/clean.ts', 'src/connectors/*/mapping.ts', 'src/scoring/**', 'src/analysis/**'],
    plugins: { regexp },
    rules: { 'regexp/no-super-linear-move': 'error' },
  },
  // import direction (one rule per file: a later block replaces an earlier one's list, so each lists all)
  { files: ['src/**/*.ts'], ignores: ['src/connectors/**', 'src/sandbox/**'], rules: restrict(crmFolder) },
  { files: ['src/scoring/**'], rules: restrict(crmFolder, 'sync', 'webhooks', 'server', 'sandbox') },
  { files: ['src/connectors/*.ts'], ignores: ['src/connectors/registry.ts'], rules: restrict(crmFolderFromPort, 'sync', 'scoring', 'webhooks', 'server', 'sandbox') },
  { files: ['src/connectors/registry.ts'], rules: restrict('sync', 'scoring', 'webhooks', 'server', 'sandbox') },
  { files: ['src/connectors/*/**'], rules: restrict(otherCrmFolder, 'sync', 'scoring', 'webhooks', 'server', 'sandbox') },
  { files: ['src/sync/**', 'src/server/**', 'src/store/**'], rules: restrict(crmFolder, 'sandbox') },
  {
    // the composition root and the CLI entry may read the environment
    files: ['src/config.ts', 'src/cli.ts'],
    rules: { 'no-restricted-syntax': ['error', ...STORE_ONLY] },
  },
  {
    // tests and benches may read the environment (and inspect a SQLite file directly)
    files: ['test/**', 'bench/**', 'vitest.config.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
