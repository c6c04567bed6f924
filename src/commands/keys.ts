import { loadConfig } from '../config.ts';
import { ConfigError, EXIT } from '../errors.ts';
import { connectStore } from '../store/index.ts';
import { parseFlags, type CliIo, type Command, subcommand } from './command.ts';

const USAGE = `Usage: rapport keys rotate [--json]

Re-encrypts every stored CRM token with a new RAPPORT_ENCRYPTION_KEY.

  1. Generate a key:            openssl rand -hex 32
  2. Set the old key as RAPPORT_ENCRYPTION_KEY_PREVIOUS and the new one as RAPPORT_ENCRYPTION_KEY,
     and restart \`rapport serve\` (it reads tokens with either key meanwhile, and seals new
     ones with the new key).
  3. Run \`rapport keys rotate\`: every token and the key-check value are sealed with the new
     key, in one transaction.
  4. Remove RAPPORT_ENCRYPTION_KEY_PREVIOUS and restart.

Running it again is harmless. A token neither key decrypts is left as it is and listed (that
portal needs reinstalling); the exit code is then 1.

Options:
  --json       machine-readable output
  -h, --help   this help
`;

export const command: Command = {
  name: 'keys',
  summary: 'Rotate the key that encrypts stored CRM tokens (keys rotate)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const rest = subcommand('keys', 'rotate', args, USAGE, io);
    if (typeof rest === 'number') return rest;
    const values = parseFlags({ name: 'keys rotate', usage: USAGE }, rest, { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, io);
    if (typeof values === 'number') return values;
    const config = loadConfig(io.env);
    if (config.encryptionKey === undefined) {
      throw new ConfigError(['RAPPORT_ENCRYPTION_KEY is not set: set the new key (and the old one as RAPPORT_ENCRYPTION_KEY_PREVIOUS) to rotate']);
    }
    const store = await connectStore(config, { encryptionKey: config.encryptionKey, previousEncryptionKey: config.previousEncryptionKey });
    try {
      if ((await store.portals.keyCheck()) === 'mismatch') {
        throw new ConfigError([
          'Neither RAPPORT_ENCRYPTION_KEY nor RAPPORT_ENCRYPTION_KEY_PREVIOUS matches the key the stored tokens were encrypted with: ' +
            'set the key they were stored with as RAPPORT_ENCRYPTION_KEY_PREVIOUS',
        ]);
      }
      const r = await store.portals.resealAll();
      if (values.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
      else {
        io.stdout(`rapport keys rotate: ${r.resealed.length} portal(s) re-encrypted with RAPPORT_ENCRYPTION_KEY${r.resealed.length > 0 ? ` (${r.resealed.join(', ')})` : ''}\n`);
        if (r.unreadable.length > 0) {
          io.stdout(`  unreadable with either key, left as they are (reinstall these portals): ${r.unreadable.join(', ')}\n`);
        } else if (config.previousEncryptionKey !== undefined) {
          io.stdout('  done: remove RAPPORT_ENCRYPTION_KEY_PREVIOUS and restart `rapport serve`\n');
        }
      }
      return r.unreadable.length > 0 ? EXIT.failure : EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
