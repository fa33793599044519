//! Test harness for the topic ports: runs the same scenario on a SQLite
//! store and on a PostgreSQL store and asserts both give the same answers.

use super::super::{Db, Store, StoreError, Tx};
use super::testing::TestDatabase;
use super::{PgDb, PgStore};

/// Runs steps `0..steps` in order, each in its own write transaction on each
/// backend, and asserts equal outputs. Each step is its own transaction
/// because a failed statement (a constraint test) aborts a PostgreSQL
/// transaction while SQLite goes on: a step that expects a failure makes it
/// its last statement. The time stamp of each transaction is masked as
/// `<now>`, since the two runs happen at different times. Returns false
/// (skipped) without a PostgreSQL server.
pub(super) fn run_both(
    label: &str,
    steps: usize,
    sqlite: impl Fn(usize, &Db<'_>) -> Vec<String>,
    pg: impl Fn(usize, &PgDb<'_>) -> Vec<String>,
) -> bool {
    let Some(server) = TestDatabase::create(label) else {
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    let lite = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let pgs = PgStore::open(server.url()).unwrap();
    for step in 0..steps {
        let want = lite
            .write_untracked(|db| Ok::<_, StoreError>(mask(sqlite(step, db), db.now())))
            .unwrap();
        let got = pgs
            .write_untracked(|db| Ok::<_, StoreError>(mask(pg(step, db), db.now_str())))
            .unwrap();
        assert_eq!(
            want, got,
            "step {step} of {label}: SQLite (left) and PostgreSQL (right) differ"
        );
    }
    true
}

fn mask(answers: Vec<String>, now: &str) -> Vec<String> {
    answers
        .into_iter()
        .map(|a| a.replace(now, "<now>"))
        .collect()
}

/// An error as a scenario records it: whether it is a constraint failure,
/// and its kind, never the driver's message (which differs by backend).
pub(super) fn outcome<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(e) => format!(
            "Err(constraint={}, corrupt={})",
            e.is_constraint(),
            matches!(e, StoreError::Corrupt(_))
        ),
    }
}
