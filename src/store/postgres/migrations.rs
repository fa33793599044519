//! Schema migrations of the PostgreSQL backend: the same versions as
//! SQLite's, keyed on the `schema_version` table, applied in one transaction
//! under an advisory lock so that replicas starting together migrate once.
//! A database written by a newer tenantgate is refused.
//!
//! Text columns use the "C" collation: ids, emails and time stamps then
//! sort and compare byte by byte, as in SQLite, so pages and cursors are
//! the same on both backends. The SQLite upgrades that rewrite data of
//! older versions (retired ids and membership emails from the audit log)
//! have no counterpart: no PostgreSQL database predates version 3.

use postgres::Transaction;

use super::super::StoreError;

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the whole domain.
    r#"
    CREATE TABLE meta (
        key   TEXT COLLATE "C" PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('data_revision', 0);

    CREATE TABLE users (
        id         TEXT COLLATE "C" PRIMARY KEY,
        email      TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );

    CREATE TABLE organizations (
        id         TEXT COLLATE "C" PRIMARY KEY,
        name       TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        updated_at TEXT COLLATE "C" NOT NULL
    );

    CREATE TABLE org_members (
        org_id    TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        user_id   TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        role      TEXT COLLATE "C" NOT NULL,
        joined_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (org_id, user_id)
    );
    CREATE INDEX org_members_by_user ON org_members(user_id, org_id);

    CREATE TABLE workspaces (
        id         TEXT COLLATE "C" PRIMARY KEY,
        org_id     TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        name       TEXT COLLATE "C" NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX workspaces_by_org ON workspaces(org_id, id);

    CREATE TABLE workspace_members (
        workspace_id TEXT COLLATE "C" NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        org_id       TEXT COLLATE "C" NOT NULL,
        user_id      TEXT COLLATE "C" NOT NULL,
        role         TEXT COLLATE "C" NOT NULL,
        added_at     TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (workspace_id, user_id),
        FOREIGN KEY (org_id, user_id) REFERENCES org_members(org_id, user_id) ON DELETE CASCADE
    );
    CREATE INDEX workspace_members_by_member ON workspace_members(org_id, user_id);

    -- `seq` orders invites as SQLite's rowid does (newest first in lists).
    CREATE TABLE invites (
        id          TEXT COLLATE "C" PRIMARY KEY,
        seq         BIGSERIAL NOT NULL UNIQUE,
        org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        email       TEXT COLLATE "C" NOT NULL,
        role        TEXT COLLATE "C" NOT NULL,
        status      TEXT COLLATE "C" NOT NULL,
        invited_by  TEXT COLLATE "C" NOT NULL,
        ttl_days    BIGINT NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL,
        expires_at  TEXT COLLATE "C" NOT NULL,
        accepted_at TEXT COLLATE "C",
        accepted_by TEXT COLLATE "C",
        updated_at  TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX invites_by_org ON invites(org_id, created_at);
    CREATE INDEX invites_by_expiry ON invites(status, expires_at);
    CREATE UNIQUE INDEX invites_one_pending ON invites(org_id, email) WHERE status = 'pending';

    CREATE TABLE invite_tokens (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        invite_id  TEXT COLLATE "C" NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
        kind       TEXT COLLATE "C" NOT NULL,
        outbox_id  BIGINT,
        created_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX invite_tokens_by_invite ON invite_tokens(invite_id);

    CREATE TABLE mail_outbox (
        id              BIGSERIAL PRIMARY KEY,
        invite_id       TEXT COLLATE "C" NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
        recipient       TEXT COLLATE "C" NOT NULL,
        status          TEXT COLLATE "C" NOT NULL,
        attempts        BIGINT NOT NULL DEFAULT 0,
        next_attempt_at TEXT COLLATE "C" NOT NULL,
        last_error      TEXT COLLATE "C",
        created_at      TEXT COLLATE "C" NOT NULL,
        sent_at         TEXT COLLATE "C"
    );
    CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);
    CREATE INDEX mail_outbox_by_invite ON mail_outbox(invite_id, id);

    CREATE TABLE audit_events (
        id      BIGSERIAL PRIMARY KEY,
        org_id  TEXT COLLATE "C" NOT NULL,
        at      TEXT COLLATE "C" NOT NULL,
        actor   TEXT COLLATE "C" NOT NULL,
        action  TEXT COLLATE "C" NOT NULL,
        target  TEXT COLLATE "C" NOT NULL,
        details TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX audit_events_by_org ON audit_events(org_id, id);
    CREATE INDEX audit_events_by_org_action ON audit_events(org_id, action, at);

    CREATE TABLE api_keys (
        id         TEXT COLLATE "C" PRIMARY KEY,
        name       TEXT COLLATE "C" NOT NULL,
        scope      TEXT COLLATE "C" NOT NULL,
        key_hash   TEXT COLLATE "C" NOT NULL UNIQUE,
        created_at TEXT COLLATE "C" NOT NULL,
        revoked_at TEXT COLLATE "C"
    );
    "#,
    // 2: custom roles.
    r#"
    CREATE TABLE custom_roles (
        org_id      TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        key         TEXT COLLATE "C" NOT NULL,
        name        TEXT COLLATE "C" NOT NULL,
        description TEXT COLLATE "C" NOT NULL,
        permissions TEXT COLLATE "C" NOT NULL,
        created_at  TEXT COLLATE "C" NOT NULL,
        updated_at  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (org_id, key)
    );
    CREATE UNIQUE INDEX custom_roles_by_name ON custom_roles(org_id, name);
    CREATE INDEX org_members_by_role ON org_members(org_id, role);
    CREATE INDEX invites_by_role ON invites(org_id, role) WHERE status = 'pending';
    "#,
    // 3: tenant identity: retired ids (triggers, so every writer obeys,
    // cascades included), per-org audit start, per-membership emails.
    r#"
    CREATE TABLE retired_ids (
        kind       TEXT COLLATE "C" NOT NULL,
        id         TEXT COLLATE "C" NOT NULL,
        org_id     TEXT COLLATE "C" NOT NULL,
        retired_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (kind, id)
    );

    CREATE FUNCTION tenantgate_retire_id() RETURNS trigger LANGUAGE plpgsql AS $$
    -- Two statements: PL/pgSQL plans a statement when it first runs it, and
    -- `OLD.org_id` cannot be planned on organizations (no such column).
    BEGIN
        IF TG_ARGV[0] = 'org' THEN
            INSERT INTO retired_ids (kind, id, org_id, retired_at)
            VALUES (TG_ARGV[0], OLD.id, OLD.id,
                    to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            ON CONFLICT DO NOTHING;
        ELSE
            INSERT INTO retired_ids (kind, id, org_id, retired_at)
            VALUES (TG_ARGV[0], OLD.id, OLD.org_id,
                    to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN OLD;
    END $$;
    CREATE TRIGGER retire_org_id AFTER DELETE ON organizations
        FOR EACH ROW EXECUTE FUNCTION tenantgate_retire_id('org');
    CREATE TRIGGER retire_workspace_id AFTER DELETE ON workspaces
        FOR EACH ROW EXECUTE FUNCTION tenantgate_retire_id('workspace');

    -- Inserting a retired id is skipped (callers see "id taken").
    CREATE FUNCTION tenantgate_keep_retired() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM retired_ids WHERE kind = TG_ARGV[0] AND id = NEW.id) THEN
            RETURN NULL;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER keep_org_id_retired BEFORE INSERT ON organizations
        FOR EACH ROW EXECUTE FUNCTION tenantgate_keep_retired('org');
    CREATE TRIGGER keep_workspace_id_retired BEFORE INSERT ON workspaces
        FOR EACH ROW EXECUTE FUNCTION tenantgate_keep_retired('workspace');

    -- Ids never change: a renamed id would escape retirement.
    CREATE FUNCTION tenantgate_fixed_ids() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id <> OLD.id OR (TG_ARGV[0] = 'workspace' AND NEW.org_id <> OLD.org_id) THEN
            RAISE EXCEPTION 'ids never change';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER org_ids_are_fixed BEFORE UPDATE ON organizations
        FOR EACH ROW EXECUTE FUNCTION tenantgate_fixed_ids('org');
    CREATE TRIGGER workspace_ids_are_fixed BEFORE UPDATE ON workspaces
        FOR EACH ROW EXECUTE FUNCTION tenantgate_fixed_ids('workspace');

    ALTER TABLE organizations ADD COLUMN audit_from BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE org_members ADD COLUMN email TEXT COLLATE "C" NOT NULL DEFAULT '';
    CREATE INDEX org_members_by_email ON org_members(org_id, email);
    "#,
];

/// The schema version this build writes (the same as SQLite's).
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// Any number that no other user of the database takes as an advisory
/// lock key; derived from the name so it says what it is for.
const MIGRATE_LOCK: i64 = 0x7467_6d69_6772_6174; // "tgmigrat"

pub(super) fn migrate(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    // Replicas starting together: the first migrates, the others wait here
    // and then find nothing to do.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let found: Option<i64> = tx
        .query_opt("SELECT version FROM schema_version", &[])?
        .map(|row| row.get(0));
    let current = u32::try_from(found.unwrap_or(0)).unwrap_or(u32::MAX);
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(sql)?;
        tracing::info!(version = index + 1, "applied database migration");
    }
    tx.execute("DELETE FROM schema_version", &[])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&i64::from(LATEST_VERSION)],
    )?;
    Ok(())
}
