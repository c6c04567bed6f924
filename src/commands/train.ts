import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { connectStore } from '../store/index.ts';
import { trainPortal } from '../scoring/train.ts';
import { churnDefinitionFor } from '../scoring/churn-definition.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';
import { selectPortals } from './portal-arg.ts';

const USAGE = `Usage: rapport train [--portal PORTAL] [--json]

Trains each portal's models on its own cached history with a time split (features as of
90 days ago, outcomes over the 90 days since; service need on 30-day windows), stores them as a
new version with their held-out metrics (ROC AUC, PR AUC, Brier, ECE, lift at the top decile),
and fits loyalty (BG/NBD, Gamma-Gamma, RFM edges) and the satisfaction prior as of now.
Portals with too little labelled history keep the documented cold-start models.

Options:
  --portal PORTAL  only this portal (e.g. hubspot:12345678); default: every installed portal
  --json           machine-readable output
  -h, --help       this help
`;

export const command: Command = {
  name: 'train',
  summary: 'Train the churn and service-need models on the cached history',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, { json: { type: 'boolean' }, portal: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    const store = await connectStore(config, { encryptionKey: config.encryptionKey });
    try {
      const selected = await selectPortals(store, values.portal);
      if ('error' in selected) {
        io.stderr(`rapport train: ${selected.error}\n`);
        return EXIT.failure;
      }
      const results = [];
      for (const portal of selected.portals) {
        if (io.signal.aborted) break;
        const r = await trainPortal(store, portal, { now: Date.now(), churnDefinition: churnDefinitionFor(config.churn, portal) });
        results.push({ portal, ...r });
        if (values.json !== true) {
          const m = r.metrics;
          // counts as integers, rates and scores to 3 decimals, lift to 2 (stored values vary in precision)
          const fmt = (k: string, digits = 3) => {
            const v = m[k];
            return typeof v !== 'number' ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(digits);
          };
          io.stdout(
            `${portal}: model ${r.version} (${fmt('contacts')} contacts, ${fmt('sampled')} used)\n` +
              `  churn:        ${m['churn_trained'] === 1 ? 'trained' : 'cold-start prior'}; held-out AUC ${fmt('churn_auc')}, PR AUC ${fmt('churn_pr_auc')}, Brier ${fmt('churn_brier')}, ECE ${fmt('churn_ece')}, lift@10% ${fmt('churn_lift_top10', 2)} (n=${fmt('churn_test_n')})\n` +
              `  service need: ${m['service_trained'] === 1 ? 'trained' : 'cold-start prior'}; held-out AUC ${fmt('service_auc')}, PR AUC ${fmt('service_pr_auc')}, Brier ${fmt('service_brier')}, ECE ${fmt('service_ece')} (n=${fmt('service_test_n')})\n` +
              `  loyalty: ${fmt('loyalty_buyers')} buyers; satisfaction prior ${fmt('satisfaction_prior', 2)}\n`,
          );
        }
      }
      if (values.json === true) io.stdout(JSON.stringify(results, null, 2) + '\n');
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
