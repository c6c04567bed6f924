import type { Db } from './db.ts';
import type { SyncRun } from './port.ts';

export type { SyncRun };

export function createSyncRunsRepo(db: Db, now: () => number) {
  const start = db.prepare<[string, string, number]>(
    "INSERT INTO sync_runs (portal, stream, started_at, status) VALUES (?, ?, ?, 'running')",
  );
  const progress = db.prepare<[number, number, number]>('UPDATE sync_runs SET pages = ?, records = ? WHERE id = ?');
  const finish = db.prepare<[number, string, string | null, string | null, number]>(
    'UPDATE sync_runs SET finished_at = ?, status = ?, error_kind = ?, error = ? WHERE id = ?',
  );
  const latest = db.prepare<[string], { id: number; stream: string; started_at: number; finished_at: number | null; status: string; pages: number; records: number; error_kind: string | null; error: string | null }>(`
    SELECT s.* FROM sync_runs s
    JOIN (SELECT stream, MAX(id) AS id FROM sync_runs WHERE portal = ? GROUP BY stream) m ON m.id = s.id
    ORDER BY s.stream`);
  return {
    start(portal: string, stream: string): number {
      return Number(start.run(portal, stream, now()).lastInsertRowid);
    },
    progress(id: number, pages: number, records: number): void {
      progress.run(pages, records, id);
    },
    finish(id: number, status: SyncRun['status'], error?: { kind: string; message: string }): void {
      finish.run(now(), status, error?.kind ?? null, error?.message ?? null, id);
    },
    latestPerStream(portal: string): SyncRun[] {
      return latest.all(portal).map((r) => ({
        id: r.id,
        stream: r.stream,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        status: r.status as SyncRun['status'],
        pages: r.pages,
        records: r.records,
        errorKind: r.error_kind,
        error: r.error,
      }));
    },
  };
}

export type SyncRunsRepo = ReturnType<typeof createSyncRunsRepo>;
