//! Forward-auth routes: a YAML file mapping a proxied request (method and
//! path template) to a Cedar action and resource, hot-reloaded like the
//! policies. A bad file is rejected whole and the last good one keeps
//! serving; a missing file maps nothing, so forward auth denies everything.

mod path;
mod table;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use table::{Resolved, RouteSummary, Table};

use crate::authz::{Authz, ReloadStatus};

/// Largest routes file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most routes in one file.
pub const MAX_ROUTES: usize = 1000;
/// Longest path template.
pub const MAX_TEMPLATE_BYTES: usize = 1024;
/// Most segments in a template or a forwarded path.
pub const MAX_SEGMENTS: usize = 32;
/// Most named segments in a template.
pub const MAX_PARAMS: usize = 16;
/// Longest decoded segment of a forwarded path.
pub const MAX_SEGMENT_BYTES: usize = 256;
/// Longest forwarded URI.
pub const MAX_PATH_BYTES: usize = 8192;
/// Most parents, and most attributes, of a route's resource.
pub const MAX_ENTITY_LINKS: usize = 16;

/// A routes file that cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("cannot read routes file `{path}`: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("routes file `{0}` is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(PathBuf),
    #[error("routes file `{path}`: {source}")]
    File {
        path: PathBuf,
        source: Box<RoutesError>,
    },
    #[error("invalid YAML: {0}")]
    Syntax(String),
    #[error("at most {MAX_ROUTES} routes, not {0}")]
    TooMany(usize),
    #[error("route {index}: {source}")]
    Route {
        index: usize,
        source: Box<RoutesError>,
    },
    #[error("{0}")]
    Template(String),
}

/// Why a forwarded request maps to no decision (always a deny).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no route matches `{method} {path}`")]
    NoRoute { method: String, path: String },
    #[error("no routes file at `{0}`")]
    NoFile(String),
    #[error("unusable forwarded path: {0}")]
    InvalidPath(String),
    #[error("method override refused: {0}")]
    MethodOverride(String),
}

/// What `GET /v1/routes` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutesInfo {
    pub path: String,
    /// Whether the file existed at the last successful load.
    pub present: bool,
    /// `sha256:` of the serving file; absent without a file.
    pub revision: Option<String>,
    pub loaded_at: String,
    /// The serving routes, in matching order (the first match wins).
    pub routes: Vec<RouteSummary>,
    pub last_reload: ReloadStatus,
}

#[derive(Debug)]
struct Loaded {
    table: Table,
    revision: Option<String>,
    loaded_at: String,
}

/// The serving routes, swapped atomically on reload.
#[derive(Debug)]
pub struct Routes {
    path: PathBuf,
    current: ArcSwap<Loaded>,
    last_reload: Mutex<ReloadStatus>,
    /// Serializes reloads so the watcher and the poller cannot race.
    reload_lock: Mutex<()>,
    /// The policy set whose schema every route's action must be declared
    /// in; each reload (the watcher reloads the routes after the policies)
    /// checks against the set serving then.
    authz: Option<Arc<Authz>>,
}

/// The file's text and revision; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<(String, String)>, RoutesError> {
    let io = |source| RoutesError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(RoutesError::TooLarge(path.to_owned()));
    }
    let revision = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let text = String::from_utf8(bytes).map_err(|_| RoutesError::File {
        path: path.to_owned(),
        source: Box::new(RoutesError::Syntax("not UTF-8".to_owned())),
    })?;
    Ok(Some((text, revision)))
}

fn load_file(path: &Path, authz: Option<&Authz>) -> Result<Loaded, RoutesError> {
    let (table, revision) = match read(path)? {
        None => (Table::default(), None),
        Some((text, revision)) => {
            let in_file = |e| RoutesError::File {
                path: path.to_owned(),
                source: Box::new(e),
            };
            let table = Table::parse(&text).map_err(in_file)?;
            if let Some(authz) = authz {
                table
                    .check_actions(|kind| authz.actions_on(kind))
                    .map_err(in_file)?;
            }
            (table, Some(revision))
        }
    };
    Ok(Loaded {
        table,
        revision,
        loaded_at: crate::model::now_rfc3339(),
    })
}

impl Routes {
    /// Loads `path`; an invalid file, or one naming an action the schema
    /// of `authz` does not declare, fails (the sidecar refuses to start); a
    /// missing one maps nothing.
    pub fn load(path: &Path, authz: Option<Arc<Authz>>) -> Result<Self, RoutesError> {
        let loaded = load_file(path, authz.as_deref())?;
        match &loaded.revision {
            Some(revision) => {
                tracing::info!(path = %path.display(), routes = loaded.table.len(), %revision, "routes loaded");
            }
            None => {
                tracing::info!(path = %path.display(), "no routes file; forward auth denies every request")
            }
        }
        let status = ReloadStatus {
            ok: true,
            at: loaded.loaded_at.clone(),
            error: None,
        };
        Ok(Self {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(loaded),
            last_reload: Mutex::new(status),
            reload_lock: Mutex::new(()),
            authz,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file and swaps it in when it is valid and new; a bad
    /// file is logged once per distinct error and the last good one stays.
    pub fn reload(&self) -> Result<(), RoutesError> {
        let _guard = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = load_file(&self.path, self.authz.as_deref());
        let mut status = self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(loaded) => {
                let changed = loaded.revision != self.current.load().revision;
                if changed || !status.ok {
                    *status = ReloadStatus {
                        ok: true,
                        at: loaded.loaded_at.clone(),
                        error: None,
                    };
                }
                if changed {
                    tracing::info!(
                        path = %self.path.display(),
                        routes = loaded.table.len(),
                        revision = loaded.revision.as_deref().unwrap_or("none"),
                        "routes reloaded"
                    );
                    self.current.store(Arc::new(loaded));
                }
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                if status.error.as_deref() != Some(message.as_str()) {
                    tracing::error!(error = %message, "routes file rejected; the last good routes keep serving");
                }
                *status = ReloadStatus {
                    ok: false,
                    at: crate::model::now_rfc3339(),
                    error: Some(message),
                };
                Err(e)
            }
        }
    }

    /// The route of a forwarded request.
    pub fn resolve(
        &self,
        method: &str,
        uri: &str,
        method_override: Option<&str>,
    ) -> Result<Resolved, Refusal> {
        let current = self.current.load();
        if current.revision.is_none() {
            return Err(Refusal::NoFile(self.path.display().to_string()));
        }
        current.table.resolve(method, uri, method_override)
    }

    pub fn info(&self) -> RoutesInfo {
        let current = self.current.load();
        RoutesInfo {
            path: self.path.display().to_string(),
            present: current.revision.is_some(),
            revision: current.revision.clone(),
            loaded_at: current.loaded_at.clone(),
            routes: current.table.summaries(),
            last_reload: self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

#[cfg(test)]
mod tests;
