import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackgroundCheckpoints } from '../../../src/store/checkpoints.ts';
import { openDatabase, type Db } from '../../../src/store/db.ts';
import { createStore } from '../../../src/store/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => {
  dir?.cleanup();
  dir = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const walBytes = (path: string) => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);

/** ~12 MB of rows in 240 commits of 50 KB, pausing now and then so a checkpoint thread can run. */
async function write(db: Db, path: string): Promise<number> {
  db.exec('CREATE TABLE IF NOT EXISTS bulk (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT');
  const ins = db.prepare<[string]>('INSERT INTO bulk (v) VALUES (?)');
  let largest = 0;
  for (let i = 0; i < 240; i++) {
    db.transaction(() => {
      for (let k = 0; k < 50; k++) ins.run('x'.repeat(1000));
    })();
    largest = Math.max(largest, walBytes(path));
    if (i % 20 === 19) await sleep(200);
  }
  return largest;
}

describe('WAL checkpoints on a thread of their own (src/store/checkpoints.ts)', () => {
  it('the serving connection never checkpoints, the thread does, and the WAL stays small', async () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const db = openDatabase(path);
    const checkpoints = startBackgroundCheckpoints(db, { everyMs: 25 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const largest = await write(db, path);
    await checkpoints.stop();
    // a WAL that nobody checkpointed would hold all ~12 MB; a checkpoint every pause lets it restart
    expect(largest).toBeLessThan(5_000_000);
    db.close();
  });

  it('control: with automatic checkpoints off and no thread, the same writes grow the WAL past 10 MB', async () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const db = openDatabase(path);
    db.pragma('wal_autocheckpoint = 0');
    expect(await write(db, path)).toBeGreaterThan(10_000_000);
    db.close();
  });

  it('a thread that cannot run hands checkpoints back to the connection and says so', async () => {
    dir = tempDir();
    const db = openDatabase(join(dir.path, 'r.db'));
    // a folder is no database: the thread fails to open it
    const failures: Error[] = [];
    let failed: (e: Error) => void = () => {};
    const failure = new Promise<Error>((resolve) => (failed = resolve));
    const checkpoints = startBackgroundCheckpoints(db, {
      path: dir.path,
      onFailure: (e) => {
        failures.push(e);
        failed(e);
      },
    });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    expect((await failure).message).toMatch(/directory|unable to open|SQLITE_CANTOPEN/i);
    await sleep(200); // the thread's exit follows its error
    await checkpoints.stop();
    // the thread's error and then its exit: said once
    expect(failures).toHaveLength(1);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('a store opened with background checkpoints closes the thread first and leaves no WAL behind', async () => {
    dir = tempDir();
    const path = join(dir.path, 'r.db');
    const store = createStore({ path, backgroundCheckpoints: true });
    await store.cursors.set('hubspot:1', 'contacts', 'c1' as never);
    expect(walBytes(path)).toBeGreaterThan(0);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const again = createStore({ path });
    expect(await again.cursors.get('hubspot:1', 'contacts')).toBe('c1');
    await again.close();
  });
});
