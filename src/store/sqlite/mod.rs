//! The SQLite backend: the only module that touches rusqlite. One writer
//! connection and one reader connection on a WAL database file.

mod access;
mod audit;
mod invites;
mod keys;
mod migrations;
mod orgs;
mod outbox;
mod roles;
mod workspaces;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::{parse_column, split_page, Db, StoreError, Tx};

pub use migrations::LATEST_VERSION;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database: one writer connection and one reader connection. WAL lets
/// reads run beside the single writer.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

/// The statements, run on a transaction (writes) or on the reader (reads).
#[derive(Debug)]
pub struct SqliteDb<'c> {
    conn: &'c Connection,
    now: String,
}

impl Tx for SqliteDb<'_> {
    fn now(&self) -> &str {
        &self.now
    }

    fn data_revision(&self) -> Result<u64, StoreError> {
        let value: i64 = self.conn.query_row(
            "SELECT value FROM meta WHERE key = 'data_revision'",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(value).unwrap_or(0))
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up
    /// to date. Refuses a database written by a newer version.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = connect(path, false)?;
        migrations::migrate(&mut writer)?;
        let reader = connect(path, true)?;
        Ok(Self {
            path: path.to_owned(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` in one IMMEDIATE transaction and bumps the data revision
    /// in it. Commits when `work` succeeds; rolls back otherwise. Returns the
    /// new data revision with the result.
    pub fn write<T, E>(&self, work: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<(T, u64), E>
    where
        E: From<StoreError>,
    {
        self.transaction(|db| {
            let value = work(db)?;
            Ok((value, db.bump_revision()?))
        })
    }

    /// Runs `work` in one transaction without touching the data revision.
    pub fn write_untracked<T, E>(&self, work: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction(|db| work(db))
    }

    fn transaction<T, E>(&self, work: impl FnOnce(&SqliteDb<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let db = SqliteDb {
            conn: &tx,
            now: crate::model::now_rfc3339(),
        };
        let value = work(&db)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs read-only `work` on the reader connection.
    pub fn read<T, E>(&self, work: impl FnOnce(&Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = lock(&self.reader);
        let db = SqliteDb {
            conn: &conn,
            now: crate::model::now_rfc3339(),
        };
        work(&db)
    }
}

impl SqliteDb<'_> {
    fn bump_revision(&self) -> Result<u64, StoreError> {
        let value: i64 = self.conn.query_row(
            "UPDATE meta SET value = value + 1 WHERE key = 'data_revision' RETURNING value",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(value).unwrap_or(0))
    }
}

fn connect(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    if !read_only {
        // WAL survives in the file; the reader inherits it.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    Ok(conn)
}

/// A poisoned lock only means another thread panicked mid-call; the
/// connection itself is still usable (SQLite rolled back), so go on.
fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether SQLite refuses for now (read-only file, full disk, lock held
/// too long, I/O error) rather than because of a bug.
pub(super) fn is_unavailable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
        )
    )
}

/// Whether SQLite refused a uniqueness or foreign-key constraint.
pub(super) fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }

    #[test]
    fn reopening_keeps_data_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = Store::open(&path).unwrap();
        let ((), rev) = store
            .write(|db| db.insert_org("acme", "Acme").map(|_| ()))
            .unwrap();
        assert_eq!(rev, 1);
        drop(store);
        let store = Store::open(&path).unwrap();
        let org = store.read(|db| db.get_org("acme")).unwrap().unwrap();
        assert_eq!(org.name, "Acme");
        assert_eq!(store.read(|db| db.data_revision()).unwrap(), 1);
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let res: Result<((), u64), StoreError> = store.write(|db| {
            db.insert_org("acme", "Acme")?;
            Err(StoreError::Corrupt("abort".into()))
        });
        assert!(res.is_err());
        assert!(store.read(|db| db.get_org("acme")).unwrap().is_none());
        assert_eq!(store.read(|db| db.data_revision()).unwrap(), 0);
    }

    #[test]
    fn a_database_refusing_writes_is_unavailable_not_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(Store::open(&path).unwrap());
        // What the store sees when its file turns read-only or another
        // process holds the write lock: errors the API answers with 503.
        let read_only =
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let err = StoreError::from(
            read_only
                .execute("UPDATE meta SET value = value", [])
                .unwrap_err(),
        );
        assert!(err.is_unavailable(), "{err}");
        let locker = Connection::open(&path).unwrap();
        locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let err = StoreError::from(other.execute_batch("BEGIN IMMEDIATE").unwrap_err());
        assert!(err.is_unavailable(), "{err}");
        let err = StoreError::from(rusqlite::Error::QueryReturnedNoRows);
        assert!(!err.is_unavailable(), "a bug is not an outage");
    }
}
