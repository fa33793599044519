//! Hot reload: the notify watcher on the policy and schema folders,
//! debounced, plus a slow periodic re-check for changes a watcher can miss
//! (a folder replaced wholesale, network filesystems). Every trigger asks
//! `Authz::reload`, which loads the whole set and swaps it in only if it is
//! valid and new.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::authz::Authz;

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
    let target = authz.clone();
    let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| match result {
        Ok(events) if !events.is_empty() => {
            tracing::debug!(count = events.len(), "policy folder changed");
            // Errors are recorded in the reload status and logged there.
            let _ = target.reload();
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "policy watcher error"),
    })
    .map_err(|source| WatchError::Watch {
        path: authz.policies_dir().to_owned(),
        source,
    })?;
    for dir in [authz.policies_dir(), authz.schema_dir()] {
        add(&mut debouncer, dir)?;
    }
    Ok(PolicyWatcher {
        _debouncer: debouncer,
    })
}

fn add(
    debouncer: &mut Debouncer<notify::RecommendedWatcher>,
    dir: &Path,
) -> Result<(), WatchError> {
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|source| WatchError::Watch {
            path: dir.to_owned(),
            source,
        })
}

/// Re-checks the folders every `interval` on the blocking pool until the
/// runtime stops.
pub fn spawn_poller(authz: Arc<Authz>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let authz = authz.clone();
            let _ = tokio::task::spawn_blocking(move || authz.reload()).await;
        }
    })
}
