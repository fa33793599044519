//! Schema migrations, applied in one transaction and keyed on
//! `PRAGMA user_version`. A database written by a newer tenantgate is refused
//! rather than guessed at.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the whole domain.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO meta (key, value) VALUES ('data_revision', 0);

    CREATE TABLE users (
        id         TEXT PRIMARY KEY,
        email      TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE organizations (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE org_members (
        org_id    TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        user_id   TEXT NOT NULL REFERENCES users(id),
        role      TEXT NOT NULL,
        joined_at TEXT NOT NULL,
        PRIMARY KEY (org_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX org_members_by_user ON org_members(user_id, org_id);

    CREATE TABLE workspaces (
        id         TEXT PRIMARY KEY,
        org_id     TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX workspaces_by_org ON workspaces(org_id, id);

    -- Only organization members hold a workspace role: the foreign key to
    -- org_members enforces it and drops the workspace roles of a member who
    -- leaves.
    CREATE TABLE workspace_members (
        workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
        org_id       TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        role         TEXT NOT NULL,
        added_at     TEXT NOT NULL,
        PRIMARY KEY (workspace_id, user_id),
        FOREIGN KEY (org_id, user_id) REFERENCES org_members(org_id, user_id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX workspace_members_by_member ON workspace_members(org_id, user_id);

    -- An invite's status is stored as pending until something ends it; a
    -- pending invite past expires_at reads as expired everywhere (the sweep
    -- records it later).
    CREATE TABLE invites (
        id          TEXT PRIMARY KEY,
        org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        email       TEXT NOT NULL,
        role        TEXT NOT NULL,
        status      TEXT NOT NULL,
        invited_by  TEXT NOT NULL,
        ttl_days    INTEGER NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        accepted_at TEXT,
        accepted_by TEXT,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX invites_by_org ON invites(org_id, created_at);
    CREATE INDEX invites_by_expiry ON invites(status, expires_at);
    CREATE UNIQUE INDEX invites_one_pending ON invites(org_id, email) WHERE status = 'pending';

    -- Only SHA-256 hashes of invite tokens are kept. A `link` token is the
    -- one returned by create/resend; a `mail` token is minted when the email
    -- is delivered, so no token ever waits in the outbox in clear.
    CREATE TABLE invite_tokens (
        token_hash TEXT PRIMARY KEY,
        invite_id  TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        outbox_id  INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE INDEX invite_tokens_by_invite ON invite_tokens(invite_id);

    -- Mail waiting to be delivered, written in the same transaction as the
    -- invite. The message is rendered at delivery time.
    CREATE TABLE mail_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        invite_id       TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
        recipient       TEXT NOT NULL,
        status          TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        sent_at         TEXT
    );
    CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);
    CREATE INDEX mail_outbox_by_invite ON mail_outbox(invite_id, id);

    -- Audit rows outlive what they describe: no foreign keys.
    CREATE TABLE audit_events (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id  TEXT NOT NULL,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT NOT NULL,
        details TEXT NOT NULL
    );
    CREATE INDEX audit_events_by_org ON audit_events(org_id, id);
    CREATE INDEX audit_events_by_org_action ON audit_events(org_id, action, at);

    CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        scope      TEXT NOT NULL,
        key_hash   TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    "#,
    // 2: custom roles. Memberships and invites keep holding a role as TEXT
    // (a built-in name or a custom role's key), so the role's display name
    // can change without touching them; keys never collide with built-ins.
    r#"
    CREATE TABLE custom_roles (
        org_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        key         TEXT NOT NULL,
        name        TEXT NOT NULL,
        description TEXT NOT NULL,
        -- JSON array of action ids, sorted.
        permissions TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (org_id, key)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX custom_roles_by_name ON custom_roles(org_id, name);
    CREATE INDEX org_members_by_role ON org_members(org_id, role);
    CREATE INDEX invites_by_role ON invites(org_id, role) WHERE status = 'pending';
    "#,
    // 3: tenant identity. An id that once named an organization or a
    // workspace never names another one: deleting retires the id (triggers,
    // so every writer obeys, cascades included) and inserting a retired id
    // is skipped, which callers see as "id taken". And each membership keeps
    // the email its organization was given, so no tenant's write changes
    // what another tenant sees.
    r#"
    CREATE TABLE retired_ids (
        kind       TEXT NOT NULL,  -- 'org' or 'workspace'
        id         TEXT NOT NULL,
        org_id     TEXT NOT NULL,  -- the organization it belonged to
        retired_at TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;

    CREATE TRIGGER retire_org_id AFTER DELETE ON organizations BEGIN
        INSERT OR IGNORE INTO retired_ids (kind, id, org_id, retired_at)
        VALUES ('org', OLD.id, OLD.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER retire_workspace_id AFTER DELETE ON workspaces BEGIN
        INSERT OR IGNORE INTO retired_ids (kind, id, org_id, retired_at)
        VALUES ('workspace', OLD.id, OLD.org_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER keep_org_id_retired BEFORE INSERT ON organizations
    WHEN EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'org' AND id = NEW.id)
    BEGIN SELECT RAISE(IGNORE); END;
    CREATE TRIGGER keep_workspace_id_retired BEFORE INSERT ON workspaces
    WHEN EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'workspace' AND id = NEW.id)
    BEGIN SELECT RAISE(IGNORE); END;
    -- Ids never change: a renamed id would escape retirement.
    CREATE TRIGGER org_ids_are_fixed BEFORE UPDATE OF id ON organizations
    WHEN NEW.id <> OLD.id BEGIN SELECT RAISE(ABORT, 'organization ids never change'); END;
    CREATE TRIGGER workspace_ids_are_fixed BEFORE UPDATE OF id, org_id ON workspaces
    WHEN NEW.id <> OLD.id OR NEW.org_id <> OLD.org_id
    BEGIN SELECT RAISE(ABORT, 'workspace ids never change'); END;

    -- Ids deleted before this version: every org id the audit log knows of
    -- and every workspace id it saw created or deleted, when gone now.
    INSERT OR IGNORE INTO retired_ids (kind, id, org_id, retired_at)
        SELECT 'org', org_id, org_id, MAX(at) FROM audit_events
        WHERE org_id NOT IN (SELECT id FROM organizations) GROUP BY org_id;
    INSERT OR IGNORE INTO retired_ids (kind, id, org_id, retired_at)
        SELECT 'workspace', substr(target, 12), org_id, MAX(at) FROM audit_events
        WHERE action IN ('workspace.create', 'workspace.delete') AND target LIKE 'Workspace::%'
          AND substr(target, 12) NOT IN (SELECT id FROM workspaces)
        GROUP BY substr(target, 12);

    -- An organization re-created under a deleted id before this version
    -- shows its members only its own audit rows (and counts only its own
    -- invite sends): those from its latest `org.create` on.
    ALTER TABLE organizations ADD COLUMN audit_from INTEGER NOT NULL DEFAULT 0;
    UPDATE organizations SET audit_from = COALESCE(
        (SELECT MAX(a.id) FROM audit_events a
         WHERE a.org_id = organizations.id AND a.action = 'org.create'), 0)
    WHERE EXISTS (SELECT 1 FROM audit_events d
                  WHERE d.org_id = organizations.id AND d.action = 'org.delete');

    -- The email of each membership: the one this organization last gave
    -- for the user (its audit log holds it), else the user's last known one.
    ALTER TABLE org_members ADD COLUMN email TEXT NOT NULL DEFAULT '';
    CREATE TEMP TABLE given_emails (
        org_id  TEXT NOT NULL,
        user_id TEXT NOT NULL,
        email   TEXT,
        PRIMARY KEY (org_id, user_id)
    ) WITHOUT ROWID;
    -- With MAX(id), SQLite takes the other columns from the latest row.
    INSERT INTO given_emails (org_id, user_id, email)
        SELECT org_id, user_id, email FROM (
            SELECT org_id, substr(target, 7) AS user_id,
                   json_extract(details, '$.email') AS email, MAX(id)
            FROM audit_events
            WHERE action IN ('member.add', 'invite.accept') AND target LIKE 'User::%'
              AND json_valid(details)
            GROUP BY org_id, target);
    UPDATE org_members SET email = COALESCE(
        (SELECT g.email FROM given_emails g
         WHERE g.org_id = org_members.org_id AND g.user_id = org_members.user_id
           AND typeof(g.email) = 'text'),
        (SELECT u.email FROM users u WHERE u.id = org_members.user_id),
        '');
    DROP TABLE given_emails;
    CREATE INDEX org_members_by_email ON org_members(org_id, email);
    "#,
];

/// The schema version this build writes.
pub const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(version = index + 1, "applied database migration");
    }
    tx.pragma_update(None, "user_version", LATEST_VERSION)?;
    tx.commit()?;
    Ok(())
}
