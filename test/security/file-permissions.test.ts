import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/index.ts';
import { tempDir } from '../support/temp-dir.ts';

/** Issue 15 item 8: the database holds personal data and tokens; other local users must not read it. */
let dir: ReturnType<typeof tempDir>;
afterEach(() => dir.cleanup());
const mode = (p: string) => statSync(p).mode & 0o777;

describe('database file permissions', () => {
  it('creates the directories 0700 and the file, -wal and -shm 0600, whatever the umask', async () => {
    dir = tempDir();
    const previous = process.umask(0o022); // the usual umask, which gave 0755/0644
    try {
      const path = join(dir.path, 'data', 'nested', 'rapport.db');
      const store = createStore({ path });
      await store.portals.upsert({ portal: 'hubspot:1', crm: 'hubspot', externalId: '1', baseUrl: 'http://x', scopes: [] });
      expect(mode(join(dir.path, 'data'))).toBe(0o700);
      expect(mode(join(dir.path, 'data', 'nested'))).toBe(0o700);
      expect(mode(path)).toBe(0o600);
      expect(mode(`${path}-wal`)).toBe(0o600);
      expect(mode(`${path}-shm`)).toBe(0o600);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a database file an older Rapport left readable by others, and keeps its data', async () => {
    dir = tempDir();
    const path = join(dir.path, 'rapport.db');
    const old = new Database(path);
    old.exec('CREATE TABLE kept (v TEXT)');
    old.prepare('INSERT INTO kept VALUES (?)').run('still here');
    old.close();
    chmodSync(path, 0o644);
    writeFileSync(`${path}-wal`, '', { mode: 0o644 });
    chmodSync(`${path}-wal`, 0o644);
    const store = createStore({ path });
    expect(mode(path)).toBe(0o600);
    expect(mode(`${path}-wal`)).toBe(0o600);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT v FROM kept').pluck().get()).toBe('still here');
    db.close();
  });
});
