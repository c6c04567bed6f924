import type { CrmName } from '../../errors.ts';
import { encrypt } from '../crypto.ts';
import type { KeyCheck, Portal, PortalInfo, PortalStatus, Tokens } from '../port.ts';
import { KEY_CHECK_AAD, KEY_CHECK_TEXT, keyring, TokenUnreadableError, type TokenKeys } from '../portals.ts';
import { statement, type Queryable } from './sql.ts';

/**
 * Installed portals and their tokens on Postgres: src/store/portals.ts's rules, the same sealing
 * (src/store/crypto.ts: AES-256-GCM, the portal id as AAD) and the same key-check value, so a
 * database copied from SQLite (`rapport db copy`) reads with the same keys.
 */


type PortalRow = {
  portal: string;
  crm: string;
  external_id: string;
  base_url: string;
  status: string;
  status_reason: string | null;
  scopes: string[];
  installed_at: number;
};
const toPortal = (r: PortalRow): Portal => ({
  portal: r.portal,
  crm: r.crm as CrmName,
  externalId: r.external_id,
  baseUrl: r.base_url,
  status: r.status as PortalStatus,
  statusReason: r.status_reason,
  scopes: r.scopes,
  installedAt: r.installed_at,
});

const upsert = statement(
  'portals_upsert',
  // a portal seen for the first time waits for its first full scoring pass (migration 8; both
  // parts see the table as it was before the statement)
  `WITH unscored AS (
     INSERT INTO unscored_portals (portal) SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM portals WHERE portal = $1) ON CONFLICT DO NOTHING
   )
   INSERT INTO portals (portal, crm, external_id, base_url, status, status_reason, scopes, installed_at, updated_at)
   VALUES ($1, $2, $3, $4, 'connected', NULL, $5::jsonb, $6, $6)
   ON CONFLICT (portal) DO UPDATE SET base_url = excluded.base_url, status = 'connected', status_reason = NULL,
     scopes = excluded.scopes, updated_at = excluded.updated_at`,
);
const COLS = 'portal, crm, external_id, base_url, status, status_reason, scopes, installed_at';
const getOne = statement<PortalRow>('portals_get', `SELECT ${COLS} FROM portals WHERE portal = $1`);
const all = statement<PortalRow>('portals_list', `SELECT ${COLS} FROM portals ORDER BY portal`);
const setStatus = statement('portals_set_status', 'UPDATE portals SET status = $1, status_reason = $2, updated_at = $3 WHERE portal = $4');
const saveTokens = statement(
  'tokens_save',
  `INSERT INTO tokens (portal, access_token, refresh_token, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5)
   ON CONFLICT (portal) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
     expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
);
const getTokens = statement<{ access_token: Buffer; refresh_token: Buffer | null; expires_at: number | null }>(
  'tokens_get',
  'SELECT access_token, refresh_token, expires_at FROM tokens WHERE portal = $1',
);
const anyToken = statement('tokens_any', 'SELECT 1 FROM tokens LIMIT 1');
const allTokens = statement<{ portal: string; access_token: Buffer; refresh_token: Buffer | null }>(
  'tokens_all',
  'SELECT portal, access_token, refresh_token FROM tokens ORDER BY portal',
);
// a rotation locks the rows it re-seals: a token refreshed by another process meanwhile waits
const allTokensForUpdate = statement<{ portal: string; access_token: Buffer; refresh_token: Buffer | null }>(
  'tokens_all_for_update',
  'SELECT portal, access_token, refresh_token FROM tokens ORDER BY portal FOR UPDATE',
);
const reseal = statement('tokens_reseal', 'UPDATE tokens SET access_token = $1, refresh_token = $2, updated_at = $3 WHERE portal = $4');
const getSetting = statement<{ value: Buffer }>('settings_get', 'SELECT value FROM settings WHERE name = $1');
const putSetting = statement('settings_put', 'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value');

export function createPostgresPortals(now: () => number, keys: TokenKeys) {
  const key = keys.current;
  const { open, requireKey } = keyring(keys);

  return {
    async upsert(q: Queryable, p: PortalInfo): Promise<void> {
      await upsert(q, [p.portal, p.crm, p.externalId, p.baseUrl, JSON.stringify(p.scopes), now()]);
    },
    async get(q: Queryable, portal: string): Promise<Portal | undefined> {
      const row = (await getOne(q, [portal])).rows[0];
      return row === undefined ? undefined : toPortal(row);
    },
    async list(q: Queryable): Promise<Portal[]> {
      return (await all(q)).rows.map(toPortal);
    },
    async setStatus(q: Queryable, portal: string, status: PortalStatus, reason: string | null): Promise<void> {
      await setStatus(q, [status, reason, now(), portal]);
    },
    async saveTokens(q: Queryable, portal: string, tokens: Tokens): Promise<void> {
      const k = requireKey();
      await saveTokens(q, [
        portal,
        encrypt(k, tokens.accessToken, portal),
        tokens.refreshToken === null ? null : encrypt(k, tokens.refreshToken, portal),
        tokens.expiresAt,
        now(),
      ]);
    },
    async tokens(q: Queryable, portal: string): Promise<Tokens | undefined> {
      const row = (await getTokens(q, [portal])).rows[0];
      if (row === undefined) return undefined;
      requireKey();
      const access = open(row.access_token, portal);
      const refresh = row.refresh_token === null ? null : open(row.refresh_token, portal);
      if (access === undefined || refresh === undefined) throw new TokenUnreadableError(portal);
      return { accessToken: access.text, refreshToken: refresh === null ? null : refresh.text, expiresAt: row.expires_at };
    },
    async keyCheck(q: Queryable): Promise<KeyCheck> {
      if (key === undefined) return 'no_key';
      const stored = (await getSetting(q, ['key_check'])).rows[0];
      if (stored !== undefined) {
        const r = open(stored.value, KEY_CHECK_AAD);
        return r === undefined || r.text !== KEY_CHECK_TEXT ? 'mismatch' : r.with;
      }
      const rows = (await allTokens(q)).rows;
      const readable = rows.map((t) => open(t.access_token, t.portal)).filter((r) => r !== undefined);
      if (rows.length > 0 && readable.length === 0) return 'mismatch';
      const which = readable.some((r) => r.with === 'current') || readable.length === 0 ? 'current' : 'previous';
      await putSetting(q, ['key_check', encrypt(which === 'current' ? key : (keys.previous as Buffer), KEY_CHECK_TEXT, KEY_CHECK_AAD)]);
      return which;
    },
    /** The caller holds the transaction. */
    async resealAll(q: Queryable): Promise<{ resealed: string[]; unreadable: string[] }> {
      const k = requireKey();
      const resealed: string[] = [];
      const unreadable: string[] = [];
      for (const row of (await allTokensForUpdate(q)).rows) {
        const access = open(row.access_token, row.portal);
        const refresh = row.refresh_token === null ? null : open(row.refresh_token, row.portal);
        if (access === undefined || refresh === undefined) {
          unreadable.push(row.portal);
          continue;
        }
        await reseal(q, [encrypt(k, access.text, row.portal), refresh === null ? null : encrypt(k, refresh.text, row.portal), now(), row.portal]);
        resealed.push(row.portal);
      }
      await putSetting(q, ['key_check', encrypt(k, KEY_CHECK_TEXT, KEY_CHECK_AAD)]);
      return { resealed, unreadable };
    },
    async hasTokens(q: Queryable): Promise<boolean> {
      return (await anyToken(q)).rows.length > 0;
    },
  };
}
