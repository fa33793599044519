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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{History, Store};

    /// A database file as version 2 wrote it: raw SQL of that schema, with
    /// the state the old code could leave: olive's one global email
    /// overwritten by another tenant, an org deleted and one deleted and
    /// re-created by someone else, a deleted workspace.
    fn version_2_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch(
            r#"
            INSERT INTO users VALUES ('olive', 'mallory@evil.test', 't0', 't1');
            INSERT INTO users VALUES ('ursula', 'ursula@example.com', 't0', 't0');
            INSERT INTO organizations VALUES ('acme', 'Acme', 't0', 't0');
            INSERT INTO organizations VALUES ('evil', 'Evil', 't0', 't0');
            INSERT INTO organizations VALUES ('taken', 'Taken', 't3', 't3');
            INSERT INTO org_members VALUES ('acme', 'olive', 'owner', 't0');
            INSERT INTO org_members VALUES ('acme', 'ursula', 'member', 't0');
            INSERT INTO org_members VALUES ('evil', 'olive', 'member', 't1');
            INSERT INTO workspaces VALUES ('ws1', 'acme', 'One', 't0');
            INSERT INTO audit_events (org_id, at, actor, action, target, details) VALUES
              ('acme', 't0', 'system', 'member.add', 'User::olive', '{"email":"olive@example.com","role":"owner"}'),
              ('acme', 't0', 'olive', 'workspace.delete', 'Workspace::design', '{"name":"Design"}'),
              ('evil', 't1', 'mallory', 'member.add', 'User::olive', '{"email":"mallory@evil.test","role":"member"}'),
              ('stale', 't1', 'olive', 'org.create', 'Organization::stale', '{}'),
              ('stale', 't2', 'olive', 'org.delete', 'Organization::stale', '{}'),
              ('taken', 't1', 'tom', 'org.create', 'Organization::taken', '{}'),
              ('taken', 't2', 'tom', 'invite.create', 'Invite::i1', '{"email":"tina@example.com"}'),
              ('taken', 't2', 'tom', 'org.delete', 'Organization::taken', '{}'),
              ('taken', 't3', 'mallory', 'org.create', 'Organization::taken', '{}');
            "#,
        )
        .unwrap();
    }

    #[test]
    fn version_2_data_keeps_each_orgs_emails_and_retires_deleted_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        version_2_file(&path);
        let store = Store::open(&path).unwrap();
        let email = |org: &str, user: &str| {
            store
                .read(|db| db.get_member(org, user))
                .unwrap()
                .unwrap()
                .email
        };
        // What each org was given, as its audit log recorded it; else the
        // last known address.
        assert_eq!(email("acme", "olive"), "olive@example.com");
        assert_eq!(email("evil", "olive"), "mallory@evil.test");
        assert_eq!(email("acme", "ursula"), "ursula@example.com");
        store
            .read(|db| {
                assert!(db.member_has_email("acme", "olive@example.com")?);
                assert!(!db.member_has_email("acme", "mallory@evil.test")?);
                assert!(db.org_id_retired("stale")?);
                assert!(!db.org_id_retired("acme")?);
                assert!(db.workspace_id_retired("design")?);
                assert!(!db.workspace_id_retired("ws1")?);
                // The org re-created under a deleted id sees only its own rows.
                let (live, _) = db.list_audit("taken", History::Live, None, 50)?;
                assert_eq!(live.len(), 1);
                assert_eq!(live[0].actor, "mallory");
                let (all, _) = db.list_audit("taken", History::All, None, 50)?;
                assert_eq!(all.len(), 4);
                assert_eq!(db.count_invite_sends_since("taken", "t0")?, 0);
                let (gone, _) = db.list_audit("stale", History::Live, None, 50)?;
                assert!(gone.is_empty());
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let (created, _) = store
            .write(|db| {
                Ok::<_, StoreError>((
                    db.insert_org("stale", "Again")?,
                    db.insert_workspace("design", "evil", "Mine")?,
                ))
            })
            .unwrap();
        assert_eq!(created, (false, false));
    }

    #[test]
    fn deleting_retires_ids_even_by_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let ((), _) = store
            .write(|db| {
                assert!(db.insert_org("acme", "Acme")?);
                assert!(db.insert_workspace("ws1", "acme", "One")?);
                assert!(db.insert_workspace("ws2", "acme", "Two")?);
                assert!(db.delete_workspace("ws1")?);
                assert!(db.delete_org("acme")?);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let (again, _) = store
            .write(|db| {
                assert!(db.insert_org("other", "Other")?);
                Ok::<_, StoreError>([
                    db.insert_org("acme", "Acme")?,
                    db.insert_workspace("ws1", "other", "One")?,
                    db.insert_workspace("ws2", "other", "Two")?,
                ])
            })
            .unwrap();
        assert_eq!(again, [false; 3]);
        store
            .read(|db| {
                assert!(db.org_id_retired("acme")? && db.workspace_id_retired("ws2")?);
                assert!(db.get_org("acme")?.is_none());
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}
