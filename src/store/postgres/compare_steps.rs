//! The harness the topic tests of this backend share: one scenario, run
//! step by step (a transaction each) on SQLite and on PostgreSQL, whose
//! answers must be equal.

use std::fmt::Debug;

use super::testing::TestDatabase;
use super::{PgDb, PgStore};
use crate::model::OrgRole;
use crate::store::api::*;
use crate::store::{Db, Store, StoreError};

/// Writes the scenario needs from topics of other owners: plain SQL on
/// PostgreSQL, the SQLite backend's own methods there.
pub(super) trait Fixture {
    fn now(&self) -> String;
    fn add_org(&self, id: &str, name: &str) -> bool;
    fn add_member(&self, org: &str, user: &str, email: &str);
    fn add_audit(&self, org: &str, action: &str);
    fn delete_org(&self, id: &str) -> bool;
}

struct SqliteFixture<'a, 'c>(&'a Db<'c>);

impl Fixture for SqliteFixture<'_, '_> {
    fn now(&self) -> String {
        self.0.now().to_owned()
    }
    fn add_org(&self, id: &str, name: &str) -> bool {
        self.0.insert_org(id, name).unwrap()
    }
    fn add_member(&self, org: &str, user: &str, email: &str) {
        self.0.record_user(user, email).unwrap();
        self.0
            .insert_member(org, user, &OrgRole::Member.into(), email)
            .unwrap();
    }
    fn add_audit(&self, org: &str, action: &str) {
        self.0
            .insert_audit(org, "u1", action, "t", &serde_json::json!({}))
            .unwrap();
    }
    fn delete_org(&self, id: &str) -> bool {
        self.0.delete_org(id).unwrap()
    }
}

struct PgFixture<'a, 'c>(&'a PgDb<'c>);

impl Fixture for PgFixture<'_, '_> {
    fn now(&self) -> String {
        self.0.now_str().to_owned()
    }
    fn add_org(&self, id: &str, name: &str) -> bool {
        let now = self.0.now_str();
        self.0
            .execute(
                "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &name, &now],
            )
            .unwrap()
            == 1
    }
    fn add_member(&self, org: &str, user: &str, email: &str) {
        let now = self.0.now_str();
        self.0
            .execute(
                "INSERT INTO users (id, email, created_at, updated_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (id) DO NOTHING",
                &[&user, &email, &now],
            )
            .unwrap();
        self.0
            .execute(
                "INSERT INTO org_members (org_id, user_id, role, joined_at, email)
                 VALUES ($1, $2, 'member', $3, $4)",
                &[&org, &user, &now, &email],
            )
            .unwrap();
    }
    fn add_audit(&self, org: &str, action: &str) {
        self.0
            .execute(
                "INSERT INTO audit_events (org_id, at, actor, action, target, details)
                 VALUES ($1, $2, 'u1', $3, 't', '{}')",
                &[&org, &self.0.now_str(), &action],
            )
            .unwrap();
    }
    fn delete_org(&self, id: &str) -> bool {
        self.0
            .execute("DELETE FROM organizations WHERE id = $1", &[&id])
            .unwrap()
            == 1
    }
}

/// Every topic of this owner, and the fixture, on one unit of work.
pub(super) struct Dbs<'a> {
    pub inv: &'a dyn InviteStore,
    pub out: &'a dyn OutboxStore,
    pub keys: &'a dyn KeyStore,
    pub fx: &'a dyn Fixture,
}

/// One step of a scenario: pushes what every call answered.
pub(super) type Step = fn(&Dbs<'_>, &mut Vec<String>);

/// An answer as the comparison sees it: errors by kind (the drivers'
/// messages differ), corrupt data by its message.
pub(super) fn show<T: Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(StoreError::Corrupt(m)) => format!("corrupt: {m}"),
        Err(e) if e.is_constraint() => "constraint".to_owned(),
        Err(e) => format!("error, unavailable: {}", e.is_unavailable()),
    }
}

/// Replaces each step's time stamp (they differ between runs) by its
/// step number.
fn masked(lines: Vec<String>, nows: &[String]) -> Vec<String> {
    lines
        .into_iter()
        .map(|mut line| {
            for (k, now) in nows.iter().enumerate() {
                line = line.replace(now.as_str(), &format!("<now{k}>"));
            }
            line
        })
        .collect()
}

/// Runs `steps` on both backends; `None` (skipped) without a
/// PostgreSQL server. Asserts both gave the same answers and returns them.
pub(super) fn run_both(label: &str, steps: &[Step]) -> Option<Vec<String>> {
    let pg_db = TestDatabase::create(label)?;
    let pg = PgStore::open(pg_db.url()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("db.sqlite")).unwrap();

    let (mut on_sqlite, mut on_pg) = (Vec::new(), Vec::new());
    let (mut sqlite_nows, mut pg_nows) = (Vec::new(), Vec::new());
    for (k, step) in steps.iter().enumerate() {
        let (lines, now) = sqlite
            .write_untracked(|db| {
                let fx = SqliteFixture(db);
                let dbs = Dbs {
                    inv: db,
                    out: db,
                    keys: db,
                    fx: &fx,
                };
                let mut lines = vec![format!("step {k}")];
                step(&dbs, &mut lines);
                Ok::<_, StoreError>((lines, fx.now()))
            })
            .unwrap();
        sqlite_nows.push(now);
        on_sqlite.extend(masked(lines, &sqlite_nows));
        // A failed statement aborts a PostgreSQL transaction, so steps
        // end with their failing call, the commit then rolls back, and
        // `write_untracked` (on both) has no revision to bump after it.
        let (lines, now) = pg
            .write_untracked(|db| {
                let fx = PgFixture(db);
                let dbs = Dbs {
                    inv: db,
                    out: db,
                    keys: db,
                    fx: &fx,
                };
                let mut lines = vec![format!("step {k}")];
                step(&dbs, &mut lines);
                Ok::<_, StoreError>((lines, fx.now()))
            })
            .unwrap();
        pg_nows.push(now);
        on_pg.extend(masked(lines, &pg_nows));
    }
    for (s, p) in on_sqlite.iter().zip(&on_pg) {
        assert_eq!(s, p, "SQLite and PostgreSQL differ");
    }
    assert_eq!(on_sqlite.len(), on_pg.len());
    Some(on_sqlite)
}
