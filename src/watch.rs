//! Hot reload: the notify watcher on the policy, schema and routes
//! folders, debounced, plus a slow periodic re-check for changes a watcher
//! can miss (a folder replaced wholesale, network filesystems). Every
//! trigger asks each source to reload; a source loads its whole files and
//! swaps them in only if they are valid and new, so a spurious trigger
//! costs a read and nothing else.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::authz::Authz;
use crate::routes::Routes;

/// Files the sidecar reloads when they change.
pub trait Source: Send + Sync {
    /// The folders to watch, and whether their subfolders count.
    fn folders(&self) -> Vec<(PathBuf, RecursiveMode)>;
    /// Reloads; a failure is recorded in the source's own status.
    fn reload_now(&self);
}

impl Source for Authz {
    fn folders(&self) -> Vec<(PathBuf, RecursiveMode)> {
        [self.policies_dir(), self.schema_dir()]
            .into_iter()
            .map(|d| (d.to_owned(), RecursiveMode::Recursive))
            .collect()
    }

    fn reload_now(&self) {
        let _ = self.reload();
    }
}

impl Source for Routes {
    fn folders(&self) -> Vec<(PathBuf, RecursiveMode)> {
        // The folder, not the file: editors replace files by renaming, and a
        // file that does not exist yet cannot be watched.
        let folder = match self.path().parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        vec![(folder, RecursiveMode::NonRecursive)]
    }

    fn reload_now(&self) {
        let _ = self.reload();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch `{path}`: {source}")]
    Watch {
        path: std::path::PathBuf,
        source: notify::Error,
    },
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct PolicyWatcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyWatcher")
    }
}

/// Starts watching the folders of `authz`.
pub fn watch(authz: Arc<Authz>, debounce: Duration) -> Result<PolicyWatcher, WatchError> {
    watch_all(vec![authz], debounce)
}

/// Starts watching the folders of every source; any change reloads them all.
pub fn watch_all(
    sources: Vec<Arc<dyn Source>>,
    debounce: Duration,
) -> Result<PolicyWatcher, WatchError> {
    let folders: Vec<(PathBuf, RecursiveMode)> = sources.iter().flat_map(|s| s.folders()).collect();
    let targets = sources.clone();
    let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| match result {
        Ok(events) if !events.is_empty() => {
            tracing::debug!(count = events.len(), "watched folder changed");
            for source in &targets {
                source.reload_now();
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "file watcher error"),
    })
    .map_err(|source| WatchError::Watch {
        path: folders.first().map(|(p, _)| p.clone()).unwrap_or_default(),
        source,
    })?;
    let mut recursive: Vec<PathBuf> = Vec::new();
    for (dir, mode) in folders {
        // A folder inside one already watched recursively (the default
        // routes file lives in the policies folder) needs no second watch.
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if recursive.iter().any(|r| canonical.starts_with(r)) {
            continue;
        }
        add(&mut debouncer, &dir, mode)?;
        if mode == RecursiveMode::Recursive {
            recursive.push(canonical);
        }
    }
    Ok(PolicyWatcher {
        _debouncer: debouncer,
    })
}

fn add(
    debouncer: &mut Debouncer<notify::RecommendedWatcher>,
    dir: &Path,
    mode: RecursiveMode,
) -> Result<(), WatchError> {
    debouncer
        .watcher()
        .watch(dir, mode)
        .map_err(|source| WatchError::Watch {
            path: dir.to_owned(),
            source,
        })
}

/// Re-checks every source every `interval` on the blocking pool until the
/// runtime stops.
pub fn spawn_poller(
    sources: Vec<Arc<dyn Source>>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let sources = sources.clone();
            let _ = tokio::task::spawn_blocking(move || {
                for source in &sources {
                    source.reload_now();
                }
            })
            .await;
        }
    })
}
