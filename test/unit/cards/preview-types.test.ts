/**
 * The preview's DOM stand-ins take the REAL component props (types from @hubspot/ui-extensions),
 * so type-checking them catches a card that starts using a prop or component the preview lacks.
 * The root tsconfig does not cover ui-extension/hubspot/preview (it needs the DOM lib), hence its own.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('ui-extension/hubspot/preview type-checks against @hubspot/ui-extensions 0.17', () => {
  const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
  const project = fileURLToPath(new URL('../../../ui-extension/hubspot/preview/tsconfig.json', import.meta.url));
  let output = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    output = String((e as { stdout?: string }).stdout ?? e);
  }
  expect(output).toBe('');
});
