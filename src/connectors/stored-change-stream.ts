import { z } from 'zod';

/**
 * A change stream's row in the cursors table (`CHANGE_STREAM_CURSOR`, provider.ts) as the process
 * holding the subscription stores it: read by other processes (`rapport status`, the deployment's
 * periodic tick in src/work/scheduled-passes.ts), so parsed at this boundary.
 */
export const StoredChangeStream = z.looseObject({
  state: z.string(),
  position: z.number().nullable(),
  lastError: z.string().nullable(),
  pollEveryMs: z.number(),
  events: z.number(),
  echoes: z.number(),
  gaps: z.number(),
  overflows: z.number(),
});
export type StoredChangeStream = z.infer<typeof StoredChangeStream>;

/** The stored row, or undefined when there is none or it does not parse (an older or foreign value). */
export function readStoredChangeStream(cursor: string | null | undefined): StoredChangeStream | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(cursor);
  } catch {
    return undefined;
  }
  const r = StoredChangeStream.safeParse(json);
  return r.success ? r.data : undefined;
}
