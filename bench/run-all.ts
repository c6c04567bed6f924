import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { table, type Figure } from './figures.ts';

/**
 * `npm run bench`: runs every benchmark one after the other (never in parallel: they measure
 * the same 2 cores) and prints one table of figure, value, goal, met or not.
 */
const BENCHES = ['sandbox.ts', 'sync.ts', 'models.ts', 'scoring.ts', 'store-scoring.ts', 'webhooks.ts', 'engagement-latency.ts', 'scale.ts'];
const here = import.meta.dirname;
const dir = mkdtempSync(join(tmpdir(), 'rapport-bench-'));
const results = join(dir, 'results.jsonl');
const failed: string[] = [];
for (const b of BENCHES) {
  const file = join(here, b);
  if (!existsSync(file)) {
    failed.push(`${b} (missing)`);
    continue;
  }
  process.stdout.write(`\n=== ${b} ===\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    stdio: 'inherit',
    env: { ...process.env, RAPPORT_BENCH_RESULTS: results },
  });
  if (r.status !== 0) failed.push(`${b} (exit ${r.status ?? r.signal})`);
}
const rows = existsSync(results)
  ? readFileSync(results, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Figure & { bench: string })
  : [];
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`\n=== all benchmarks ===\n${table(rows)}\n`);
const missed = rows.filter((r) => r.met === false).length;
process.stdout.write(`\n${rows.length} figures, ${rows.filter((r) => r.met === true).length} goals met, ${missed} not met${failed.length > 0 ? `; failed to run: ${failed.join(', ')}` : ''}\n`);
process.exitCode = failed.length > 0 ? 1 : 0;
