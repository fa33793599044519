//! Test harness for the topic ports: runs the same scenario on a SQLite
//! store and on a PostgreSQL store and asserts both give the same answers.

use super::super::{Db, Store, StoreError};
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
    sqlite: impl Fn(usize, &Db<'_>) -> Vec<String> + Sync,
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

/// Masks this transaction's time stamp as `<now>` and the stamps of earlier
/// ones (`2026-01-02T03:04:05.678Z`) as `<time>`.
fn mask(answers: Vec<String>, now: &str) -> Vec<String> {
    answers
        .into_iter()
        .map(|a| mask_times(&a.replace(now, "<now>")))
        .collect()
}

fn mask_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if let Some(len) = stamp_len(rest.as_bytes()) {
            out.push_str("<time>");
            rest = &rest[len..];
        } else {
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

/// The length of the time stamp `text` starts with, if it starts with one.
fn stamp_len(text: &[u8]) -> Option<usize> {
    let shape = b"dddd-dd-ddT";
    let fits = text.len() > shape.len()
        && shape.iter().zip(text).all(|(s, c)| match s {
            b'd' => c.is_ascii_digit(),
            _ => s == c,
        });
    if !fits {
        return None;
    }
    let rest = &text[shape.len()..];
    let end = rest
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b':' || *c == b'.'))?;
    (rest[end] == b'Z').then_some(shape.len() + end + 1)
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

/// Records the answer of a call that must fail on a constraint.
pub(super) fn refused<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    let answer = outcome(result);
    assert_eq!(answer, "Err(constraint=true, corrupt=false)");
    answer
}
