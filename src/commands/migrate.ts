import { loadConfig } from '../config.ts';
import { EXIT } from '../errors.ts';
import { migrateConfigured, redactUrl } from '../store/index.ts';
import { parseFlags, type CliIo, type Command } from './command.ts';

const USAGE = `Usage: rapport migrate [--json]

Brings the store's schema up to date and exits: the Postgres database at RAPPORT_DATABASE_URL
when it is set, else the SQLite file at RAPPORT_DB (created if missing). \`serve\`, \`sync\` and
every other command do the same when they start; run this once before starting several
processes after an upgrade, or from a deploy step. Several processes migrating at once are safe:
on Postgres they wait on one advisory lock, and each migration is applied once. A database
migrated by a newer Rapport is refused (exit 7) and left unchanged.

Options:
  --json       machine-readable output
  -h, --help   this help
`;

export const command: Command = {
  name: 'migrate',
  summary: 'Apply pending schema migrations to the store (SQLite or Postgres) and exit',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseFlags(command, args, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    const r = await migrateConfigured(config);
    const where = config.databaseUrl === undefined ? config.dbPath : redactUrl(config.databaseUrl);
    if (values.json === true) io.stdout(JSON.stringify({ store: r.kind, database: where, from: r.from, to: r.to, applied: r.to - r.from }, null, 2) + '\n');
    else if (r.from === r.to) io.stdout(`rapport migrate: ${where} is at schema version ${r.to}; nothing to apply\n`);
    else io.stdout(`rapport migrate: ${where} migrated from schema version ${r.from} to ${r.to}\n`);
    return EXIT.ok;
  },
};
