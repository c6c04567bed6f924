import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { buildReport } from '../report/index.ts';
import { connectStore, type Store } from '../store/index.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { selectPortals } from './portal-arg.ts';

const USAGE = `Usage: rapport report --out FILE [--portal PORTAL] [--window DAYS] [--sample N] [--json]

Writes one portal's report as a self-contained HTML file (inline CSS and SVG charts, no scripts,
nothing loaded from the network): KPI tiles with their definitions (CSAT %, NPS, churn rate,
average CLV, contact rate, communication and service efficiency, feedback rate), the four score
distributions, ROC / calibration / lift of the churn and service-need models (time split),
customer segments on a 2-D PCA map, and the BG/NBD fit of repeat purchases.
The report is as of the portal's last scoring: run \`rapport train\` and \`rapport score --all\` first.

Options:
  --out FILE       where to write the HTML (required)
  --portal PORTAL  e.g. hubspot:12345678; default: the only portal there is
  --window DAYS    KPI window in days (default 90)
  --sample N       contacts sampled for the heavy charts (default 3000; KPIs always use all)
  --currency CODE  the deals' currency as an ISO 4217 code (e.g. EUR), shown on money values;
                   without it they read "… (deal currency)"
  --json           print a machine-readable summary instead of a sentence
  -h, --help       this help
`;

const flagsSchema = z.object({
  out: z.string().min(1, '--out FILE is required'),
  window: z.coerce.number().int().min(1).max(3650).default(90),
  sample: z.coerce.number().int().min(100).max(200_000).default(3000),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code such as EUR or USD')
    .transform((c) => c.toUpperCase())
    .optional(),
});

/** The portal to report on: the requested one, else the only installed (or scored) one. */
async function choosePortal(store: Pick<Store, 'portals' | 'records' | 'scores'>, requested: string | undefined): Promise<{ portal: string } | { error: string }> {
  if (requested !== undefined) {
    const sel = await selectPortals(store, requested);
    return 'error' in sel ? sel : { portal: sel.portals[0] as string };
  }
  let candidates = (await store.portals.list()).map((p) => p.portal);
  if (candidates.length === 0) {
    candidates = await store.scores.portals();
  }
  if (candidates.length === 0) return { error: 'no portal yet: install the app or run `rapport sync`, then `rapport train` and `rapport score --all`' };
  if (candidates.length > 1) return { error: `several portals (${candidates.join(', ')}): choose one with --portal` };
  return { portal: candidates[0] as string };
}

export const command: Command = {
  name: 'report',
  summary: 'Write a self-contained HTML report (KPIs, score distributions, model curves, segments)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(
      command,
      args,
      {
        out: { type: 'string', short: 'o' },
        portal: { type: 'string' },
        window: { type: 'string' },
        sample: { type: 'string' },
        currency: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      io,
    );
    if (typeof values === 'number') return values;
    const flags = flagsSchema.safeParse({ out: values.out ?? '', window: values.window, sample: values.sample, currency: values.currency });
    if (!flags.success) {
      const issue = flags.error.issues[0];
      const where = issue?.path[0] === 'out' ? '' : `--${String(issue?.path[0] ?? '')}: `;
      io.stderr(`rapport report: ${where}${issue?.message ?? 'invalid options'}\n\n${USAGE}`);
      return EXIT.usage;
    }
    const config = loadConfig(io.env);
    const store = await connectStore(config, { encryptionKey: config.encryptionKey });
    try {
      const chosen = await choosePortal(store, values.portal);
      if ('error' in chosen) {
        io.stderr(`rapport report: ${chosen.error}\n`);
        return EXIT.failure;
      }
      const started = performance.now();
      const result = await buildReport(store, chosen.portal, {
        windowDays: flags.data.window,
        sampleSize: flags.data.sample,
        ...(flags.data.currency === undefined ? {} : { currency: flags.data.currency }),
      });
      if ('error' in result) {
        io.stderr(`rapport report: ${result.message}\n`);
        return EXIT.failure;
      }
      const out = resolve(flags.data.out);
      try {
        writeFileSync(out, result.html);
      } catch (e) {
        io.stderr(`rapport report: cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        return EXIT.failure;
      }
      const d = result.data;
      const seconds = (performance.now() - started) / 1000;
      if (values.json === true) {
        io.stdout(
          JSON.stringify(
            {
              portal: d.portal,
              out,
              bytes: Buffer.byteLength(result.html),
              asOf: new Date(d.asOf).toISOString(),
              contacts: d.contacts,
              scored: d.scored,
              sampled: d.sampled,
              seconds: Math.round(seconds * 1000) / 1000,
              kpis: Object.fromEntries(d.kpis.map((k) => [k.key, k.value])),
            },
            null,
            2,
          ) + '\n',
        );
      } else {
        io.stdout(
          `Wrote the report for ${d.portal} to ${out} (${d.contacts.toLocaleString('en-US')} contacts, ${d.scored.toLocaleString('en-US')} scored; ` +
            `charts on a sample of ${d.sampled.toLocaleString('en-US')}; ${seconds.toFixed(1)} s)\n`,
        );
      }
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
