import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { tempDir } from '../../support/temp-dir.ts';

/**
 * The Salesforce card's own tests are Jest tests (@salesforce/sfdx-lwc-jest: the LWC compiler and the
 * Lightning stubs only exist for Jest, https://developer.salesforce.com/docs/platform/lwc/guide/unit-testing-using-jest-installation.html),
 * in ui-extension/salesforce/force-app/main/default/lwc/rapportScores/__tests__. `npm test` runs them through this test,
 * which fails when any of them fails or when fewer ran than the card's states need.
 */
const PROJECT = join(import.meta.dirname, '../../../ui-extension/salesforce');
const BIN = join(PROJECT, 'node_modules/@salesforce/sfdx-lwc-jest/bin/sfdx-lwc-jest');

type JestReport = { numTotalTests: number; numPassedTests: number; numFailedTests: number; testResults: { assertionResults: { title: string; status: string }[] }[] };

it('the rapportScores card passes its sfdx-lwc-jest tests, every state', { timeout: 120_000 }, async () => {
  expect(existsSync(BIN), 'run `npm ci --prefix ui-extension/salesforce` (the root postinstall does)').toBe(true);
  const out = join(tempDir('rapport-lwc-').path, 'jest.json');
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--', '--json', `--outputFile=${out}`, '--ci'], { cwd: PROJECT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (c) => (c === 0 ? resolve(c) : reject(new Error(`sfdx-lwc-jest exited ${c}:\n${err}`))));
  });
  expect(code).toBe(0);
  const report = JSON.parse(readFileSync(out, 'utf8')) as JestReport;
  expect(report.numFailedTests).toBe(0);
  expect(report.numPassedTests).toBe(report.numTotalTests);
  const titles = report.testResults.flatMap((r) => r.assertionResults.map((a) => a.title));
  for (const state of ['spinner', 'band edges', 'not scored yet', 'no field access', 'cannot see', 'never as markup']) {
    expect(titles.some((t) => t.includes(state)), `a test of the "${state}" state`).toBe(true);
  }
});
