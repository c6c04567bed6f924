import type { CrmName } from '../errors.ts';
import { decrypt, encrypt } from './crypto.ts';
import type { Db } from './db.ts';
import type { KeyCheck, Portal, PortalStatus, Tokens } from './port.ts';

export type { KeyCheck, Portal, PortalStatus, Tokens } from './port.ts';

/** The AES keys: `current` seals and reads; `previous` (while rotating) only reads. */
export type TokenKeys = { current: Buffer | undefined; previous?: Buffer | undefined };

/**
 * A stored token that no key decrypts (a corrupted row, or a key that changed without
 * rotation). Data with a `code`, so callers disconnect that one portal and keep the others.
 */
export class TokenUnreadableError extends Error {
  override readonly name = 'TokenUnreadableError';
  readonly code = 'token_unreadable';
  constructor(readonly portal: string) {
    super(`the stored token of ${portal} cannot be decrypted with RAPPORT_ENCRYPTION_KEY (or RAPPORT_ENCRYPTION_KEY_PREVIOUS)`);
  }
}

/** No RAPPORT_ENCRYPTION_KEY while a token is stored or read: a configuration error, as data. */
export class EncryptionKeyMissingError extends Error {
  override readonly name = 'EncryptionKeyMissingError';
  readonly code = 'encryption_key_missing';
  constructor() {
    super('RAPPORT_ENCRYPTION_KEY is not set: it is needed to store or read CRM tokens (try: openssl rand -hex 32)');
  }
}

/** The key-check value both stores seal in `settings` (so a copied database reads with the same keys). */
export const KEY_CHECK_TEXT = 'rapport key check v1';
export const KEY_CHECK_AAD = 'settings:key_check';

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
/**
 * The token keys of both stores: `open` decrypts with the current key, then the previous one
 * (undefined when neither works); `requireKey` is the key to seal with, or the missing-key error.
 */
export function keyring(keys: TokenKeys) {
  return {
    open(sealed: Buffer, aad: string): { text: string; with: 'current' | 'previous' } | undefined {
      for (const [which, k] of [['current', keys.current], ['previous', keys.previous]] as const) {
        if (k === undefined) continue;
        try {
          return { text: decrypt(k, sealed, aad), with: which };
        } catch {
          // wrong key or damaged row: try the next key
        }
      }
      return undefined;
    },
    requireKey(): Buffer {
      if (keys.current === undefined) throw new EncryptionKeyMissingError();
      return keys.current;
    },
  };
}

export function createPortalsRepo(db: Db, now: () => number, keys: TokenKeys) {
  const key = keys.current;
  const upsert = db.prepare<[string, string, string, string, string, number, number]>(`
    INSERT INTO portals (portal, crm, external_id, base_url, status, status_reason, scopes, installed_at, updated_at)
    VALUES (?, ?, ?, ?, 'connected', NULL, ?, ?, ?)
    ON CONFLICT (portal) DO UPDATE SET base_url = excluded.base_url, status = 'connected', status_reason = NULL,
      scopes = excluded.scopes, updated_at = excluded.updated_at`);
  // a portal seen for the first time waits for its first full scoring pass (migration 9)
  const unscored = db.prepare<{ portal: string }>(
    'INSERT INTO unscored_portals (portal) SELECT :portal WHERE NOT EXISTS (SELECT 1 FROM portals WHERE portal = :portal) ON CONFLICT DO NOTHING',
  );
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
  const allTokens = db.prepare<[], { portal: string; access_token: Buffer; refresh_token: Buffer | null }>(
    'SELECT portal, access_token, refresh_token FROM tokens ORDER BY portal',
  );
  const reseal = db.prepare<[Buffer, Buffer | null, number, string]>(
    'UPDATE tokens SET access_token = ?, refresh_token = ?, updated_at = ? WHERE portal = ?',
  );
  const getSetting = db.prepare<[string], { value: Buffer }>('SELECT value FROM settings WHERE name = ?');
  const putSetting = db.prepare<[string, Buffer]>(
    'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
  );

  const { open, requireKey } = keyring(keys);

  return {
    upsert(p: { portal: string; crm: CrmName; externalId: string; baseUrl: string; scopes: string[] }): void {
      const t = now();
      unscored.run({ portal: p.portal });
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
    /** The portal's tokens; throws TokenUnreadableError when no configured key decrypts them. */
    tokens(portal: string): Tokens | undefined {
      const row = getTokens.get(portal);
      if (row === undefined) return undefined;
      requireKey();
      const access = open(row.access_token, portal);
      const refresh = row.refresh_token === null ? null : open(row.refresh_token, portal);
      if (access === undefined || refresh === undefined) throw new TokenUnreadableError(portal);
      return { accessToken: access.text, refreshToken: refresh === null ? null : refresh.text, expiresAt: row.expires_at };
    },
    /**
     * Which configured key matches the stored key-check value. A database without one (written
     * before it existed, or no token saved yet) is judged by its tokens: if there are some and
     * not one decrypts, the key is wrong; otherwise the check value is written now.
     */
    keyCheck(): KeyCheck {
      if (key === undefined) return 'no_key';
      const stored = getSetting.get('key_check');
      if (stored !== undefined) {
        const r = open(stored.value, KEY_CHECK_AAD);
        return r === undefined || r.text !== KEY_CHECK_TEXT ? 'mismatch' : r.with;
      }
      const rows = allTokens.all();
      const readable = rows.map((t) => open(t.access_token, t.portal)).filter((r) => r !== undefined);
      if (rows.length > 0 && readable.length === 0) return 'mismatch';
      const which = readable.some((r) => r.with === 'current') || readable.length === 0 ? 'current' : 'previous';
      putSetting.run('key_check', encrypt(which === 'current' ? key : (keys.previous as Buffer), KEY_CHECK_TEXT, KEY_CHECK_AAD));
      return which;
    },
    /**
     * Re-seals every token and the key-check value with the current key (the caller holds the
     * transaction). Tokens no key reads are left as they are and listed.
     */
    resealAll(): { resealed: string[]; unreadable: string[] } {
      const k = requireKey();
      const resealed: string[] = [];
      const unreadable: string[] = [];
      for (const row of allTokens.all()) {
        const access = open(row.access_token, row.portal);
        const refresh = row.refresh_token === null ? null : open(row.refresh_token, row.portal);
        if (access === undefined || refresh === undefined) {
          unreadable.push(row.portal);
          continue;
        }
        reseal.run(encrypt(k, access.text, row.portal), refresh === null ? null : encrypt(k, refresh.text, row.portal), now(), row.portal);
        resealed.push(row.portal);
      }
      putSetting.run('key_check', encrypt(k, KEY_CHECK_TEXT, KEY_CHECK_AAD));
      return { resealed, unreadable };
    },
    /** Whether any token is stored (the server refuses to start without a key then). */
    hasTokens(): boolean {
      return (tokenCount.get()?.n ?? 0) > 0;
    },
  };
}

export type PortalsRepo = ReturnType<typeof createPortalsRepo>;
