/**
 * Ordered schema migrations. The schema version lives in SQLite's `user_version`; each entry
 * moves the schema from index to index+1 inside one transaction. Never edit a released entry:
 * append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema. Every table is keyed by portal ('<crm>:<account id>').
  `
  CREATE TABLE portals (
    portal TEXT PRIMARY KEY,
    crm TEXT NOT NULL CHECK (crm IN ('hubspot', 'salesforce')),
    external_id TEXT NOT NULL,
    base_url TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    status_reason TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    installed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;

  -- OAuth / private-app tokens, AES-256-GCM encrypted (iv | tag | ciphertext).
  CREATE TABLE tokens (
    portal TEXT PRIMARY KEY REFERENCES portals(portal) ON DELETE CASCADE,
    access_token BLOB NOT NULL,
    refresh_token BLOB,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL
  ) STRICT;

  -- Normalized CRM records: JSON plus the columns we filter or sort on.
  CREATE TABLE records (
    portal TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    company_id TEXT,
    updated_at INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    synced_at INTEGER NOT NULL,
    PRIMARY KEY (portal, type, id)
  ) STRICT;
  CREATE INDEX records_updated ON records (portal, type, updated_at);

  -- Record → contact links (engagements, deals, tickets, feedback to contacts; contact to company).
  CREATE TABLE associations (
    portal TEXT NOT NULL,
    from_type TEXT NOT NULL,
    from_id TEXT NOT NULL,
    to_type TEXT NOT NULL,
    to_id TEXT NOT NULL,
    PRIMARY KEY (portal, from_type, from_id, to_type, to_id)
  ) STRICT;
  CREATE INDEX associations_to ON associations (portal, to_type, to_id, from_type);

  CREATE TABLE cursors (
    portal TEXT NOT NULL,
    stream TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (portal, stream)
  ) STRICT;

  -- Contacts whose inputs changed since they were last scored.
  CREATE TABLE dirty_contacts (
    portal TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    marked_at INTEGER NOT NULL,
    PRIMARY KEY (portal, contact_id)
  ) STRICT;

  CREATE TABLE scores (
    portal TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    satisfaction REAL NOT NULL,
    loyalty REAL NOT NULL,
    churn_risk REAL NOT NULL,
    service_need REAL NOT NULL,
    health TEXT NOT NULL CHECK (health IN ('green', 'yellow', 'red')),
    confidence REAL NOT NULL,
    detail TEXT NOT NULL,
    model_version TEXT NOT NULL,
    scored_at INTEGER NOT NULL,
    PRIMARY KEY (portal, contact_id)
  ) STRICT;

  -- One row per change of a contact's scores, for trends ("+12 in 30 days").
  CREATE TABLE score_history (
    portal TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    scored_at INTEGER NOT NULL,
    satisfaction REAL NOT NULL,
    loyalty REAL NOT NULL,
    churn_risk REAL NOT NULL,
    service_need REAL NOT NULL,
    health TEXT NOT NULL,
    PRIMARY KEY (portal, contact_id, scored_at)
  ) STRICT;

  -- Property values waiting to be written to the CRM, and what was last written.
  CREATE TABLE outbox (
    portal TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    properties TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'parked')),
    last_error TEXT,
    PRIMARY KEY (portal, contact_id)
  ) STRICT;
  CREATE INDEX outbox_due ON outbox (portal, status, next_attempt_at);

  CREATE TABLE written (
    portal TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    properties TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (portal, contact_id)
  ) STRICT;

  CREATE TABLE webhook_events (
    portal TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (portal, event_id)
  ) STRICT;
  CREATE INDEX webhook_events_age ON webhook_events (received_at);

  CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY,
    portal TEXT NOT NULL,
    stream TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
    pages INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL DEFAULT 0,
    error_kind TEXT,
    error TEXT
  ) STRICT;
  CREATE INDEX sync_runs_stream ON sync_runs (portal, stream, started_at);

  -- Trained, versioned models with their evaluation metrics.
  CREATE TABLE models (
    portal TEXT NOT NULL,
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    trained_at INTEGER NOT NULL,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (portal, kind, version)
  ) STRICT;
  `,
  // 2: CRM API usage per portal and minute, for `rapport status` (usage against the limit).
  `
  CREATE TABLE api_usage (
    portal TEXT NOT NULL,
    minute INTEGER NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    rate_limited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (portal, minute)
  ) STRICT;
  `,
  // 3: a covering index for "records linked to this contact". Without from_id in it, SQLite
  // preferred scanning the primary key by portal alone (every association of the portal per
  // contact: 45 s instead of 0.5 s to rescore 5,000 contacts).
  `
  DROP INDEX associations_to;
  CREATE INDEX associations_to ON associations (portal, to_type, to_id, from_type, from_id);
  `,
  // 4: settings of the installation. `key_check` holds a known text sealed with
  // RAPPORT_ENCRYPTION_KEY, so a wrong key is a clear configuration error at start instead of
  // every token failing to decrypt (issue 15 item 6).
  `
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) STRICT;
  `,
  // 5: every trained model version is kept (models are inserted, never replaced), and each score
  // change records the model version that produced it, so "was this churn score right?" can be
  // asked of the model behind it. Rows from before keep a NULL version (not recorded then).
  `
  ALTER TABLE score_history ADD COLUMN model_version TEXT;
  CREATE INDEX models_by_time ON models (portal, kind, trained_at);
  `,
  // 6: a portal's CRM is any registered provider's name (src/connectors/registry.ts), not a fixed
  // list. SQLite cannot drop a CHECK in place (https://www.sqlite.org/lang_altertable.html#otheralter):
  // both tables are rebuilt, tokens first so no cascade runs, and the renames carry the reference.
  `
  CREATE TABLE portals_v6 (
    portal TEXT PRIMARY KEY,
    crm TEXT NOT NULL CHECK (crm GLOB '[a-z]*' AND length(crm) <= 31),
    external_id TEXT NOT NULL,
    base_url TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    status_reason TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    installed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  INSERT INTO portals_v6 SELECT portal, crm, external_id, base_url, status, status_reason, scopes, installed_at, updated_at FROM portals;
  CREATE TABLE tokens_v6 (
    portal TEXT PRIMARY KEY REFERENCES portals_v6(portal) ON DELETE CASCADE,
    access_token BLOB NOT NULL,
    refresh_token BLOB,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL
  ) STRICT;
  INSERT INTO tokens_v6 SELECT portal, access_token, refresh_token, expires_at, updated_at FROM tokens;
  DROP TABLE tokens;
  DROP TABLE portals;
  ALTER TABLE portals_v6 RENAME TO portals;
  ALTER TABLE tokens_v6 RENAME TO tokens;
  `,
  // 7: one spelling of each score field (src/scores.ts): values waiting in the outbox and the
  // record of what was last written use the field names `churnRisk`, `serviceNeed`, `scoredAt`,
  // `modelVersion` instead of snake_case, so the outbox diff keeps matching after an upgrade.
  `
  UPDATE outbox SET properties = json_remove(json_set(properties, '$.churnRisk', json_extract(properties, '$.churn_risk')), '$.churn_risk') WHERE json_type(properties, '$.churn_risk') IS NOT NULL;
  UPDATE outbox SET properties = json_remove(json_set(properties, '$.serviceNeed', json_extract(properties, '$.service_need')), '$.service_need') WHERE json_type(properties, '$.service_need') IS NOT NULL;
  UPDATE outbox SET properties = json_remove(json_set(properties, '$.scoredAt', json_extract(properties, '$.scored_at')), '$.scored_at') WHERE json_type(properties, '$.scored_at') IS NOT NULL;
  UPDATE outbox SET properties = json_remove(json_set(properties, '$.modelVersion', json_extract(properties, '$.model_version')), '$.model_version') WHERE json_type(properties, '$.model_version') IS NOT NULL;
  UPDATE written SET properties = json_remove(json_set(properties, '$.churnRisk', json_extract(properties, '$.churn_risk')), '$.churn_risk') WHERE json_type(properties, '$.churn_risk') IS NOT NULL;
  UPDATE written SET properties = json_remove(json_set(properties, '$.serviceNeed', json_extract(properties, '$.service_need')), '$.service_need') WHERE json_type(properties, '$.service_need') IS NOT NULL;
  UPDATE written SET properties = json_remove(json_set(properties, '$.scoredAt', json_extract(properties, '$.scored_at')), '$.scored_at') WHERE json_type(properties, '$.scored_at') IS NOT NULL;
  UPDATE written SET properties = json_remove(json_set(properties, '$.modelVersion', json_extract(properties, '$.model_version')), '$.model_version') WHERE json_type(properties, '$.model_version') IS NOT NULL;
  `,
  // 8: no query reads records by modification time (a stream's position is its cursor), so the
  // index on (portal, type, updated_at) only cost every insert; on Postgres it also misled the
  // planner into finding a record by id through it (src/store/postgres/migrations.ts, 6).
  `
  DROP INDEX IF EXISTS records_updated;
  `,
  // 9: a portal installed anew is listed here until a full scoring pass has scored all its
  // contacts. Until that pass starts (pass_started_at), its pages write no dirty marks: the pass
  // reads every contact anyway, and a first backfill's marks were one row written and deleted per
  // contact (a tenth of the Postgres CPU of bench:scale's backfill). From the pass's start on, pages
  // mark again; the row goes when a pass that started then ends, so a pass that dies midway is
  // simply run again (docs/ARCHITECTURE.md §1).
  `
  CREATE TABLE unscored_portals (
    portal TEXT PRIMARY KEY,
    pass_started_at INTEGER
  ) STRICT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
