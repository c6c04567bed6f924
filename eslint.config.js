// Lint rules, including the import direction of ARCHITECTURE.md §2.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const forbid = (...groups) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: groups.map((g) => ({
        group: [`**/${g}/**`, `**/${g}.ts`],
        message: `This layer must not import from ${g} (ARCHITECTURE.md §2: data flows one way).`,
      })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'ui-extension/**/node_modules/**', 'data/**', 'test-artifacts/**', 'ui-extension/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only src/config.ts reads process.env; take a Config instead.',
        },
      ],
    },
  },
  { files: ['src/scoring/**'], rules: forbid('connectors/hubspot', 'connectors/salesforce', 'sync', 'webhooks', 'server', 'sandbox') },
  { files: ['src/connectors/**'], rules: forbid('sync', 'scoring', 'webhooks', 'server', 'sandbox') },
  { files: ['src/sync/**', 'src/webhooks/**', 'src/server/**', 'src/store/**'], rules: forbid('sandbox') },
  {
    // the composition root, the CLI entry and tests/benches may read the environment
    files: ['src/config.ts', 'src/cli.ts', 'test/**', 'bench/**', 'vitest.config.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
