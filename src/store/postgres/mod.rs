//! The PostgreSQL backend, the shared store of several replicas: the only
//! module that touches the postgres driver. A pool of connections; every
//! write runs in one transaction that first takes a database-wide advisory
//! lock, so writers of all replicas are serialized as SQLite's single writer
//! is, and the data revision grows in commit order.

mod access;
mod audit;
mod connect;
mod invites;
mod keys;
mod migrations;
mod orgs;
mod outbox;
mod roles;
mod workspaces;

use std::cell::RefCell;

use postgres::types::ToSql;
use postgres::{IsolationLevel, Row, Transaction};
use postgres_native_tls::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;

use super::{StoreError, Tx};

pub use connect::{redact, PgSettings};

/// Connections kept open per replica.
const POOL_SIZE: u32 = 8;
/// How long a call waits for a free connection (or a new one) before the
/// database counts as unavailable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// The advisory lock every write transaction holds (see the module comment).
const WRITE_LOCK: i64 = 0x7467_7772_6974_6572; // "tgwriter"

type Pool = r2d2::Pool<PostgresConnectionManager<MakeTlsConnector>>;

/// A PostgreSQL database.
pub struct PgStore {
    /// Always `Some` until dropped (see `Drop`).
    pool: Option<Pool>,
    settings: PgSettings,
}

impl Drop for PgStore {
    /// Closing a connection blocks on the driver's own runtime, which may
    /// not happen on an async runtime thread (the store is often dropped on
    /// one, at shutdown and in tests): close them on a thread of their own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            std::thread::scope(|scope| {
                scope.spawn(move || drop(pool));
            });
        }
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One unit of work: a transaction (writes) or a read-only snapshot
/// transaction (reads). The driver wants `&mut` for every statement while the
/// store API hands out `&self`, hence the cell; a unit of work is used by one
/// thread at a time.
pub struct PgDb<'a> {
    tx: RefCell<Transaction<'a>>,
    now: String,
}

impl std::fmt::Debug for PgDb<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDb")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date (once, however
    /// many replicas start together). Refuses a database written by a newer
    /// version.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let settings = PgSettings::parse(url)?;
        let manager =
            PostgresConnectionManager::new(settings.config.clone(), settings.tls_connector()?);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(manager)
            .map_err(|e| StoreError::Unreachable(format!("{}: {e}", settings.redacted())))?;
        let store = Self {
            pool: Some(pool),
            settings,
        };
        let mut conn = store.connection()?;
        let mut tx = conn.transaction()?;
        migrations::migrate(&mut tx)?;
        tx.commit()?;
        Ok(store)
    }

    /// The URL without its password, for messages.
    pub fn redacted_url(&self) -> &str {
        self.settings.redacted()
    }

    fn connection(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<MakeTlsConnector>>, StoreError>
    {
        self.pool
            .as_ref()
            .ok_or_else(|| StoreError::Unreachable("the store is closed".into()))?
            .get()
            .map_err(|e| StoreError::Unreachable(format!("{}: {e}", self.settings.redacted())))
    }

    /// Runs `work` in one transaction holding the write lock and bumps the
    /// data revision in it; see `Store::write`.
    pub fn write<T, E>(&self, work: impl FnOnce(&PgDb<'_>) -> Result<T, E>) -> Result<(T, u64), E>
    where
        E: From<StoreError>,
    {
        self.transaction(|db| {
            let value = work(db)?;
            Ok((value, db.bump_revision()?))
        })
    }

    /// Runs `work` in one transaction holding the write lock.
    pub fn write_untracked<T, E>(
        &self,
        work: impl FnOnce(&PgDb<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction(work)
    }

    fn transaction<T, E>(&self, work: impl FnOnce(&PgDb<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.connection()?;
        let mut tx = conn.transaction().map_err(StoreError::from)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(StoreError::from)?;
        let db = PgDb {
            tx: RefCell::new(tx),
            now: crate::model::now_rfc3339(),
        };
        let value = work(&db)?;
        db.tx.into_inner().commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Runs read-only `work` on one consistent snapshot of the database.
    pub fn read<T, E>(&self, work: impl FnOnce(&PgDb<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.connection()?;
        let tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(StoreError::from)?;
        let db = PgDb {
            tx: RefCell::new(tx),
            now: crate::model::now_rfc3339(),
        };
        let value = work(&db)?;
        db.tx.into_inner().commit().map_err(StoreError::from)?;
        Ok(value)
    }
}

impl Tx for PgDb<'_> {
    fn now(&self) -> &str {
        &self.now
    }

    fn data_revision(&self) -> Result<u64, StoreError> {
        self.data_revision_now()
    }
}

/// Statement helpers for the topic modules.
impl PgDb<'_> {
    pub(super) fn now_str(&self) -> &str {
        &self.now
    }

    pub(super) fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        Ok(self.tx.borrow_mut().query(sql, params)?)
    }

    pub(super) fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.tx.borrow_mut().query_opt(sql, params)?)
    }

    pub(super) fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        Ok(self.tx.borrow_mut().query_one(sql, params)?)
    }

    pub(super) fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        Ok(self.tx.borrow_mut().execute(sql, params)?)
    }

    pub(super) fn data_revision_now(&self) -> Result<u64, StoreError> {
        let row = self.query_one("SELECT value FROM meta WHERE key = 'data_revision'", &[])?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn bump_revision(&self) -> Result<u64, StoreError> {
        let row = self.query_one(
            "UPDATE meta SET value = value + 1 WHERE key = 'data_revision' RETURNING value",
            &[],
        )?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

/// Whether PostgreSQL refuses for now (connection lost or refused, server
/// shutting down, too many connections, read-only standby, disk full)
/// rather than because of a bug.
pub(super) fn is_unavailable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    // Lost or refused connections carry an I/O error; a statement that
    // returned the wrong number of rows carries none (that is a bug).
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        return true;
    }
    match e.code() {
        None => false,
        Some(code) => [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
            SqlState::DISK_FULL,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::CONNECTION_FAILURE,
            SqlState::LOCK_NOT_AVAILABLE,
        ]
        .contains(code),
    }
}

/// Whether PostgreSQL refused a uniqueness or foreign-key constraint.
pub(super) fn is_constraint(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::FOREIGN_KEY_VIOLATION
    )
}

#[cfg(test)]
mod compare;
#[cfg(test)]
mod compare_steps;
#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::testing::TestDatabase;
    use super::*;

    #[test]
    fn migrates_once_and_refuses_a_newer_database() {
        let Some(db) = TestDatabase::create("migrates_once") else {
            return;
        };
        let store = PgStore::open(db.url()).unwrap();
        // Opening again finds nothing to do.
        drop(PgStore::open(db.url()).unwrap());
        store
            .write_untracked(|db| {
                db.execute("UPDATE schema_version SET version = version + 1", &[])
                    .map(|_| ())
            })
            .unwrap();
        let err = PgStore::open(db.url()).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }

    #[test]
    fn replicas_starting_together_migrate_once() {
        let Some(db) = TestDatabase::create("migrate_together") else {
            return;
        };
        let url = db.url().to_owned();
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PgStore::open(&url).map(|_| ()))
            })
            .collect();
        for handle in opened {
            handle.join().unwrap().unwrap();
        }
        let store = PgStore::open(&url).unwrap();
        let version = store
            .read(|db| db.query_one("SELECT version FROM schema_version", &[]))
            .unwrap();
        assert_eq!(
            version.get::<_, i64>(0),
            i64::from(migrations::LATEST_VERSION)
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_revisions_grow() {
        let Some(db) = TestDatabase::create("failed_write") else {
            return;
        };
        let store = PgStore::open(db.url()).unwrap();
        let res: Result<((), u64), StoreError> = store.write(|db| {
            db.execute(
                "UPDATE meta SET value = 100 WHERE key = 'data_revision'",
                &[],
            )?;
            Err(StoreError::Corrupt("abort".into()))
        });
        assert!(res.is_err());
        assert_eq!(store.read(|db| db.data_revision_now()).unwrap(), 0);
        let ((), first) = store.write(|_| Ok::<_, StoreError>(())).unwrap();
        let ((), second) = store.write(|_| Ok::<_, StoreError>(())).unwrap();
        assert_eq!((first, second), (1, 2));
    }

    #[test]
    fn an_unreachable_server_is_unavailable_not_a_bug() {
        // A port nothing listens on (loopback only, refused at once).
        let err =
            PgStore::open("postgres://postgres@127.0.0.1:9/none?connect_timeout=2").unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }
}
