import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { connectStore } from '../store/index.ts';
import { parseFlags, type CliIo, type Command, subcommand } from './command.ts';
import { selectPortals } from './portal-arg.ts';

const USAGE = `Usage: rapport outbox retry [--portal PORTAL] [--json]

Score writes the CRM refused for good are parked (see \`rapport status\`, "parked"). Once the
cause is fixed (a missing property provisioned, a scope granted, a contact restored), re-queue
them: \`retry\` makes every parked write of the portal pending again with a fresh attempt count.
They are sent by the next \`rapport sync --once\` or by the running \`rapport serve\`.

Options:
  --portal PORTAL  only this portal (e.g. hubspot:12345678); default: every installed portal
  --json           machine-readable output
  -h, --help       this help
`;

export const command: Command = {
  name: 'outbox',
  summary: 'Re-queue parked score writes (`outbox retry`)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const rest = subcommand('outbox', 'retry', args, USAGE, io);
    if (typeof rest === 'number') return rest;
    const values = parseFlags({ name: 'outbox retry', usage: USAGE }, rest, { portal: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    const store = await connectStore(config, { encryptionKey: config.encryptionKey });
    try {
      const selected = await selectPortals(store, values.portal);
      if ('error' in selected) {
        io.stderr(`rapport outbox retry: ${selected.error}\n`);
        return EXIT.failure;
      }
      const results: { portal: string; requeued: number; pending: number }[] = [];
      for (const portal of selected.portals) results.push({ portal, requeued: await store.outbox.requeueParked(portal), pending: 0 });
      for (const r of results) r.pending = (await store.outbox.stats(r.portal)).pending;
      if (values.json === true) io.stdout(JSON.stringify(results, null, 2) + '\n');
      else {
        for (const r of results) {
          io.stdout(
            `${r.portal}: ${r.requeued} parked write${r.requeued === 1 ? '' : 's'} re-queued; ${r.pending} pending, sent by the next \`rapport sync --once\` or the running \`rapport serve\`\n`,
          );
        }
      }
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
