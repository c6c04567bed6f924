import type { CrmName } from '../errors.ts';
import { decrypt, encrypt } from './crypto.ts';
import type { Db } from './db.ts';

export type PortalStatus = 'connected' | 'disconnected';

export type Portal = {
  portal: string;
  crm: CrmName;
  externalId: string;
  baseUrl: string;
  status: PortalStatus;
  statusReason: string | null;
  scopes: string[];
  installedAt: number;
};

export type Tokens = { accessToken: string; refreshToken: string | null; expiresAt: number | null };

type PortalRow = {
  portal: string;
  crm: string;
  external_id: string;
  base_url: string;
  status: string;
  status_reason: string | null;
  scopes: string;
  installed_at: number;
};

const toPortal = (r: PortalRow): Portal => ({
  portal: r.portal,
  crm: r.crm as CrmName,
  externalId: r.external_id,
  baseUrl: r.base_url,
  status: r.status as PortalStatus,
  statusReason: r.status_reason,
  scopes: JSON.parse(r.scopes) as string[],
  installedAt: r.installed_at,
});

/**
 * Installed portals and their tokens. Tokens are sealed with AES-256-GCM (the portal id is the
 * AAD, so a token row copied onto another portal does not decrypt).
 */
export function createPortalsRepo(db: Db, now: () => number, key: Buffer | undefined) {
  const upsert = db.prepare<[string, string, string, string, string, number, number]>(`
    INSERT INTO portals (portal, crm, external_id, base_url, status, status_reason, scopes, installed_at, updated_at)
    VALUES (?, ?, ?, ?, 'connected', NULL, ?, ?, ?)
    ON CONFLICT (portal) DO UPDATE SET base_url = excluded.base_url, status = 'connected', status_reason = NULL,
      scopes = excluded.scopes, updated_at = excluded.updated_at`);
  const getOne = db.prepare<[string], PortalRow>('SELECT * FROM portals WHERE portal = ?');
  const all = db.prepare<[], PortalRow>('SELECT * FROM portals ORDER BY portal');
  const setStatus = db.prepare<[string, string | null, number, string]>(
    'UPDATE portals SET status = ?, status_reason = ?, updated_at = ? WHERE portal = ?',
  );
  const saveTokens = db.prepare<[string, Buffer, Buffer | null, number | null, number]>(`
    INSERT INTO tokens (portal, access_token, refresh_token, expires_at, updated_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (portal) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
      expires_at = excluded.expires_at, updated_at = excluded.updated_at`);
  const getTokens = db.prepare<[string], { access_token: Buffer; refresh_token: Buffer | null; expires_at: number | null }>(
    'SELECT access_token, refresh_token, expires_at FROM tokens WHERE portal = ?',
  );
  const tokenCount = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tokens');

  const requireKey = (): Buffer => {
    if (key === undefined) {
      throw new Error('RAPPORT_ENCRYPTION_KEY is not set: it is needed to store or read CRM tokens (try: openssl rand -hex 32)');
    }
    return key;
  };

  return {
    upsert(p: { portal: string; crm: CrmName; externalId: string; baseUrl: string; scopes: string[] }): void {
      const t = now();
      upsert.run(p.portal, p.crm, p.externalId, p.baseUrl, JSON.stringify(p.scopes), t, t);
    },
    get(portal: string): Portal | undefined {
      const row = getOne.get(portal);
      return row === undefined ? undefined : toPortal(row);
    },
    list(): Portal[] {
      return all.all().map(toPortal);
    },
    markDisconnected(portal: string, reason: string): void {
      setStatus.run('disconnected', reason, now(), portal);
    },
    markConnected(portal: string): void {
      setStatus.run('connected', null, now(), portal);
    },
    saveTokens(portal: string, tokens: Tokens): void {
      const k = requireKey();
      saveTokens.run(
        portal,
        encrypt(k, tokens.accessToken, portal),
        tokens.refreshToken === null ? null : encrypt(k, tokens.refreshToken, portal),
        tokens.expiresAt,
        now(),
      );
    },
    tokens(portal: string): Tokens | undefined {
      const row = getTokens.get(portal);
      if (row === undefined) return undefined;
      const k = requireKey();
      return {
        accessToken: decrypt(k, row.access_token, portal),
        refreshToken: row.refresh_token === null ? null : decrypt(k, row.refresh_token, portal),
        expiresAt: row.expires_at,
      };
    },
    /** Whether any token is stored (the server refuses to start without a key then). */
    hasTokens(): boolean {
      return (tokenCount.get()?.n ?? 0) > 0;
    },
  };
}

export type PortalsRepo = ReturnType<typeof createPortalsRepo>;
