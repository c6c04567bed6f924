import type { WorkerOptions } from 'node:worker_threads';

/**
 * Where a worker thread's module is. From source (npm start, tests, benchmarks run TypeScript
 * through tsx) it is `<name>.ts` and needs tsx's loader, whoever started this process; the build
 * (dist/, what production runs, without tsx installed) has plain `<name>.js` beside the caller.
 * `from` is the caller's `import.meta.url`.
 */
export function workerModule(from: string, name: string): { url: URL; options: Pick<WorkerOptions, 'execArgv'> } {
  if (from.endsWith('.ts')) return { url: new URL(`./${name}.ts`, from), options: { execArgv: ['--import', import.meta.resolve('tsx/esm')] } };
  return { url: new URL(`./${name}.js`, from), options: {} };
}
