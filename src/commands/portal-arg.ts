/** Shared by `rapport train` and `rapport score`: which portals a command works on. */
import { z } from 'zod';
import type { Store } from '../store/index.ts';

const portalSchema = z
  .string()
  .regex(/^(hubspot|salesforce):[A-Za-z0-9_-]+$/, 'expected hubspot:<hub id> or salesforce:<org id>, e.g. hubspot:12345678');

/**
 * The requested portal (validated, and known to the store: installed, or with cached records),
 * or every installed portal. Returns an error message instead of throwing.
 */
export async function selectPortals(store: Pick<Store, 'portals' | 'records'>, requested: string | undefined): Promise<{ portals: string[] } | { error: string }> {
  const installed = (await store.portals.list()).map((p) => p.portal);
  if (requested === undefined) {
    if (installed.length === 0) return { error: 'no portal installed yet: run `rapport sync` or install the app first' };
    return { portals: installed };
  }
  const parsed = portalSchema.safeParse(requested);
  if (!parsed.success) return { error: `--portal ${JSON.stringify(requested)}: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const known = installed.includes(parsed.data) || (await store.records.hasAny(parsed.data));
  if (!known) {
    return { error: `unknown portal ${parsed.data} (installed: ${installed.length === 0 ? 'none' : installed.join(', ')})` };
  }
  return { portals: [parsed.data] };
}
