//! The store: the only module that touches a database driver. The domain
//! asks its questions through one API (`api`: a trait per topic, `Tx` for
//! all of them), and each backend answers them with its own SQL: `sqlite`
//! (embedded, the default). Callers get plain `model` types back. Calls
//! block, so async callers run them on the blocking pool (see `domain`).

mod api;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

pub use api::{role_map, History, InviteFilter, RoleUsage};
pub use sqlite::LATEST_VERSION;

use crate::model::CustomRole;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database schema version {found} is newer than this build supports ({supported}); upgrade tenantgate")]
    TooNew { found: u32, supported: u32 },
    #[error("cannot open database `{path}`: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// An id a bulk writer (the dataset) wanted is taken or retired.
    #[error("{0} is taken or belonged to a deleted object")]
    IdTaken(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// A database setting that cannot be used (URL, TLS files).
    #[error("{0}")]
    Config(String),
    /// The database server cannot be reached now.
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Postgres(#[from] ::postgres::Error),
}

impl StoreError {
    /// Whether the failure is the database refusing writes for now (read-only
    /// file, full disk, lock held too long, I/O error) rather than a bug.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Sqlite(e) | Self::Open { source: e, .. } => sqlite::is_unavailable(e),
            Self::Postgres(e) => postgres::is_unavailable(e),
            Self::Unreachable(_) => true,
            _ => false,
        }
    }

    /// Whether the failure is a uniqueness or foreign-key constraint.
    pub fn is_constraint(&self) -> bool {
        match self {
            Self::Sqlite(e) => sqlite::is_constraint(e),
            Self::Postgres(e) => postgres::is_constraint(e),
            _ => false,
        }
    }
}

/// One unit of work on a database (a transaction, or a read): every
/// question of the store API, whichever backend answers it.
pub trait Tx:
    api::AccessStore
    + api::AuditStore
    + api::InviteStore
    + api::KeyStore
    + api::OrgStore
    + api::OutboxStore
    + api::RoleStore
    + api::WorkspaceStore
{
    /// The time stamp of this unit of work: every row it writes carries it.
    fn now(&self) -> &str;

    /// The data revision as of this unit of work.
    fn data_revision(&self) -> Result<u64, StoreError>;
}

/// What the domain holds while it works: a unit of work of some backend.
pub type Db<'c> = dyn Tx + 'c;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An embedded SQLite file (the default).
    File(PathBuf),
    /// A shared PostgreSQL database, `postgres://…`.
    Url(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
        }
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    postgres::redact(url)
}

/// The database the sidecar keeps its data in.
#[derive(Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (creating if needed) the SQLite database file and brings its
    /// schema up to date. Refuses a database written by a newer version.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::SqliteStore::open(path)?),
        })
    }

    /// Opens the database at `location`: a SQLite file, or a PostgreSQL URL
    /// (connecting, and migrating once however many replicas start).
    pub fn connect(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::File(path) => Self::open(path),
            Location::Url(url) => Ok(Self {
                backend: Backend::Postgres(off_runtime(|| postgres::PgStore::open(url))?),
            }),
        }
    }

    /// Where the data lives, for messages (never with a password).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path().display().to_string(),
            Backend::Postgres(p) => p.redacted_url().to_owned(),
        }
    }

    /// Runs `work` in one transaction and bumps the data revision in it.
    /// Commits when `work` succeeds; rolls back otherwise. Returns the new
    /// data revision with the result.
    pub fn write<T, E>(
        &self,
        work: impl FnOnce(&Db<'_>) -> Result<T, E> + Send,
    ) -> Result<(T, u64), E>
    where
        E: From<StoreError> + Send,
        T: Send,
    {
        match &self.backend {
            Backend::Sqlite(s) => s.write(work),
            Backend::Postgres(p) => off_runtime(|| p.write(|db| work(db))),
        }
    }

    /// Runs `work` in one transaction without touching the data revision:
    /// for writes decisions never read (API keys, invites, mail).
    pub fn write_untracked<T, E>(
        &self,
        work: impl FnOnce(&Db<'_>) -> Result<T, E> + Send,
    ) -> Result<T, E>
    where
        E: From<StoreError> + Send,
        T: Send,
    {
        match &self.backend {
            Backend::Sqlite(s) => s.write_untracked(work),
            Backend::Postgres(p) => off_runtime(|| p.write_untracked(|db| work(db))),
        }
    }

    /// Runs read-only `work`.
    pub fn read<T, E>(&self, work: impl FnOnce(&Db<'_>) -> Result<T, E> + Send) -> Result<T, E>
    where
        E: From<StoreError> + Send,
        T: Send,
    {
        match &self.backend {
            Backend::Sqlite(s) => s.read(work),
            Backend::Postgres(p) => off_runtime(|| p.read(|db| work(db))),
        }
    }
}

/// Runs `work` where a blocking database driver may block: here, unless
/// this thread drives an async runtime (a request handler, a test body),
/// then on a thread of its own. PostgreSQL's blocking client runs its own
/// runtime inside and must not be called from an async one; SQLite needs
/// no such care.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| {
        scope
            .spawn(work)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The `LIMIT` of a page query: one row more than the page, so that
/// `split_page` can tell whether more exist.
fn fetch_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1
}

/// Pagination helper: of `limit + 1` fetched rows, keep `limit` and report
/// whether more exist.
fn split_page<T>(mut rows: Vec<T>, limit: usize) -> (Vec<T>, bool) {
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

fn parse_column<T: std::str::FromStr>(value: String, what: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("bad {what} `{value}`")))
}

/// A custom role read with its permissions still as stored (a JSON array).
fn with_permissions((mut role, json): (CustomRole, String)) -> Result<CustomRole, StoreError> {
    role.permissions = serde_json::from_str(&json)
        .map_err(|_| StoreError::Corrupt(format!("bad permissions of role `{}`", role.key)))?;
    Ok(role)
}

/// Permissions as stored: a JSON array of action ids.
fn permissions_json(permissions: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(permissions).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An invite's delivery from its latest outbox row (none: mail disabled).
fn delivery(
    mail_status: Option<&str>,
    attempts: Option<i64>,
    last_error: Option<String>,
) -> crate::model::Delivery {
    use crate::model::{Delivery, DeliveryStatus};
    match mail_status {
        None => Delivery {
            status: DeliveryStatus::Disabled,
            attempts: 0,
            last_error: None,
        },
        Some(s) => Delivery {
            status: match s {
                "queued" => DeliveryStatus::Queued,
                "sent" => DeliveryStatus::Sent,
                _ => DeliveryStatus::Failed,
            },
            attempts: attempts.and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
            last_error,
        },
    }
}
