import { loadConfig } from '../config.ts';
import { ConfigError, EXIT } from '../errors.ts';
import { copySqliteToPostgres } from '../store/index.ts';
import { parseFlags, type CliIo, type Command, subcommand } from './command.ts';

const USAGE = `Usage: rapport db copy [--from FILE] [--to postgres://…] [--json]

Copies a SQLite cache (portals, encrypted tokens, records, scores and their history, outbox,
models, cursors, …) into an empty Postgres database, to move an install onto Postgres:

  1. Stop \`rapport serve\` (nothing may write the file meanwhile).
  2. rapport db copy --from data/rapport.db --to postgres://rapport:…@db:5432/rapport
  3. Set RAPPORT_DATABASE_URL to that URL, keep RAPPORT_ENCRYPTION_KEY as it was (tokens are
     copied sealed), and start \`rapport serve\` again.

The target is migrated first and must hold no data. Everything is copied in one transaction and
checked before it commits: the row count and a checksum of every table, read back from both
databases. A mismatch commits nothing and exits 7 naming the tables.

Options:
  --from FILE   the SQLite file (default: RAPPORT_DB)
  --to URL      the Postgres database (default: RAPPORT_DATABASE_URL; the URL on a command line
                is visible to other users of the machine in the process list: prefer the variable)
  --json        machine-readable output
  -h, --help    this help
`;

export const command: Command = {
  name: 'db',
  summary: 'Copy a SQLite cache into Postgres, verified (db copy)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const rest = subcommand('db', 'copy', args, USAGE, io);
    if (typeof rest === 'number') return rest;
    const values = parseFlags(
      { name: 'db copy', usage: USAGE },
      rest,
      { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      io,
    );
    if (typeof values === 'number') return values;
    // --to is the same setting as RAPPORT_DATABASE_URL: checked by the same schema
    const config = loadConfig(values.to === undefined ? io.env : { ...io.env, RAPPORT_DATABASE_URL: values.to });
    const to = config.databaseUrl;
    if (to === undefined) throw new ConfigError(['rapport db copy needs the Postgres database: --to postgres://… or RAPPORT_DATABASE_URL']);
    const from = values.from ?? config.dbPath;
    const r = await copySqliteToPostgres({
      from,
      to,
      ...(values.json === true ? {} : { onTable: (table: string, rows: number) => io.stderr(`copied ${table}: ${rows} rows\n`) }),
    });
    if (values.json === true) io.stdout(JSON.stringify(r, null, 2) + '\n');
    else {
      const rows = r.tables.reduce((n, t) => n + t.rows, 0);
      io.stdout(`rapport db copy: ${rows} rows in ${r.tables.length} tables copied from ${r.from} to ${r.to} in ${(r.ms / 1000).toFixed(1)}s; counts and checksums match\n`);
    }
    return EXIT.ok;
  },
};
