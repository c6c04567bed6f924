import type { Cursor } from '../connectors/types.ts';
import type { Db } from './db.ts';

/**
 * The outbox's sending mark (OutboxPort.setSending) lives in the cursors table under this name: a
 * row per portal, durable with everything else, copied by `db copy`; `list` does not show it.
 */
export const OUTBOX_SENDING = 'rapport:outbox-sending';

export function createCursorsRepo(db: Db, now: () => number) {
  const get = db.prepare<[string, string], { cursor: string; updated_at: number }>(
    'SELECT cursor, updated_at FROM cursors WHERE portal = ? AND stream = ?',
  );
  const set = db.prepare<[string, string, string, number]>(`
    INSERT INTO cursors (portal, stream, cursor, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (portal, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`);
  const del = db.prepare<[string, string]>('DELETE FROM cursors WHERE portal = ? AND stream = ?');
  const all = db.prepare<[string], { stream: string; cursor: string; updated_at: number }>(
    `SELECT stream, cursor, updated_at FROM cursors WHERE portal = ? AND stream <> '${OUTBOX_SENDING}' ORDER BY stream`,
  );
  return {
    get(portal: string, stream: string): Cursor | null {
      return (get.get(portal, stream)?.cursor as Cursor | undefined) ?? null;
    },
    set(portal: string, stream: string, cursor: Cursor): void {
      set.run(portal, stream, cursor, now());
    },
    clear(portal: string, stream: string): void {
      del.run(portal, stream);
    },
    list(portal: string): { stream: string; cursor: Cursor; updatedAt: number }[] {
      return all.all(portal).map((r) => ({ stream: r.stream, cursor: r.cursor as Cursor, updatedAt: r.updated_at }));
    },
  };
}

export type CursorsRepo = ReturnType<typeof createCursorsRepo>;
