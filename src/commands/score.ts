import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { connectStore } from '../store/index.ts';
import { rescoreAllInParallel } from '../scoring/parallel.ts';
import { scoreContacts } from '../scoring/score-portal.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { selectPortals } from './portal-arg.ts';

const USAGE = `Usage: rapport score [--all] [--portal PORTAL] [--json]

Scores contacts from the local cache: satisfaction, loyalty, churn risk and service need
(0–100, band, confidence, reasons), keeps the score history, and queues the values that changed
for write-back to the CRM (the next \`rapport sync --once\` or the running \`rapport serve\` sends
them). By default only contacts whose data changed
since they were last scored; --all rescores everyone (e.g. after \`rapport train\`).

Options:
  --all            every contact, not only the changed ones
  --portal PORTAL  only this portal (e.g. hubspot:12345678); default: every installed portal
  --json           machine-readable output
  -h, --help       this help
`;

export const command: Command = {
  name: 'score',
  summary: 'Score changed (or --all) contacts and queue changed values for write-back',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, { all: { type: 'boolean' }, json: { type: 'boolean' }, portal: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    const store = await connectStore(config, { encryptionKey: config.encryptionKey });
    try {
      const selected = await selectPortals(store, values.portal);
      if ('error' in selected) {
        io.stderr(`rapport score: ${selected.error}\n`);
        return EXIT.failure;
      }
      const results = [];
      for (const portal of selected.portals) {
        if (io.signal.aborted) break;
        const started = performance.now();
        // --all uses every core (worker threads read, this thread saves); changed contacts are few.
        let r;
        if (values.all === true) {
          // a full pass is also a portal's first one (DirtyPort.startFirstPass)
          const first = await store.dirty.startFirstPass(portal);
          r = await rescoreAllInParallel(store, portal, { now: Date.now() });
          if (first !== undefined) await store.dirty.endFirstPass(portal, first);
        } else {
          r = await scoreContacts(store, portal, { contactIds: 'dirty', now: Date.now() });
        }
        const seconds = (performance.now() - started) / 1000;
        results.push({ portal, ...r, seconds: Math.round(seconds * 1000) / 1000 });
        if (values.json !== true) {
          io.stdout(`${portal}: scored ${r.scored} contacts in ${seconds.toFixed(1)} s; ${r.enqueued} with changed values queued for write-back\n`);
        }
      }
      if (values.json === true) io.stdout(JSON.stringify(results, null, 2) + '\n');
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
