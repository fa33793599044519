//! Wiring: opens the store, loads the policy set, builds the snapshot and the
//! key ring, starts the reloaders, and serves.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::authz::{Authz, LoadError};
use crate::config::Settings;
use crate::decision_log::{DecisionLog, Sink};
use crate::domain::delivery::{self, RetryPolicy};
use crate::domain::{InviteSettings, Tenancy};
use crate::keys::KeyRing;
use crate::mail::{MailError, Mailer};
use crate::ratelimit::FailureLimiter;
use crate::routes::{Routes, RoutesError};
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};
use crate::watch::{self, WatchError};

/// Why the sidecar could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory `{path}`: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no valid policy set, refusing to start:\n{0}")]
    Policies(#[from] LoadError),
    #[error("invalid forward-auth routes, refusing to start: {0}")]
    Routes(#[from] RoutesError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("mail settings: {0}")]
    Mail(#[from] MailError),
    #[error("refusing to listen on `{0}` without API keys: create one with `tenantgate keys create --scope admin`, or listen on loopback")]
    NoKeys(std::net::SocketAddr),
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Everything a running sidecar holds.
#[derive(Debug)]
pub struct App {
    pub settings: Settings,
    pub store: Arc<Store>,
    pub authz: Arc<Authz>,
    /// The forward-auth routes.
    pub routes: Arc<Routes>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub tenancy: Tenancy,
    pub keys: Arc<KeyRing>,
    pub mailer: Arc<Mailer>,
    /// The decision log, when one is configured.
    pub decision_log: Option<Arc<DecisionLog>>,
    /// Calls without a key are admitted (as `admin`) while no key was ever
    /// created, and only when listening on loopback.
    pub open_when_keyless: bool,
    /// Failed invite-token attempts per API key.
    pub token_failures: FailureLimiter,
}

impl App {
    /// Opens the database and loads the policies; no background task is
    /// started, so tests can drive the result with `http::router` directly.
    pub fn open(settings: Settings) -> Result<Arc<Self>, StartError> {
        // Installed before anything can record (the reload counters).
        crate::metrics::init();
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.clone(),
            source,
        })?;
        let store = Arc::new(Store::connect(&settings.database())?);
        let gate = settings
            .require_policy_tests
            .then(|| crate::policytest::gate(&settings.policies));
        let authz = Arc::new(Authz::load_gated(
            &settings.policies,
            &settings.schema,
            gate,
        )?);
        authz.set_all_roles(crate::store::role_map(&store)?)?;
        let routes = Arc::new(Routes::load(&settings.routes_path(), Some(authz.clone()))?);
        let (access, revision) =
            store.read(|db| Ok::<_, StoreError>((db.load_all_access()?, db.data_revision()?)))?;
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::build(access, revision)));
        let keys = Arc::new(KeyRing::load(&store)?);
        let invites = InviteSettings {
            default_expiry_days: settings.invite_expiry_days,
            rate_per_hour: settings.invite_rate_per_hour,
            accept_url_template: settings.accept_url_template.clone(),
        };
        let tenancy = Tenancy::new(
            store.clone(),
            authz.clone(),
            snapshot.clone(),
            invites,
            settings.max_custom_role_grants,
        );
        let mailer = Arc::new(Mailer::new(
            settings.smtp_url.as_deref(),
            &settings.mail_dir(),
            &settings.mail_from,
            settings.mail_templates.as_deref(),
            Duration::from_millis(settings.smtp_timeout_ms),
        )?);
        let open_when_keyless = settings.listen.ip().is_loopback();
        let settings_failures = settings.invite_token_failures_per_minute;
        let decision_log = settings.decision_log.as_deref().map(|sink| {
            Arc::new(DecisionLog::new(
                Sink::parse(sink),
                settings.decision_log_sample,
                settings.decision_log_buffer,
            ))
        });
        Ok(Arc::new(Self {
            settings,
            store,
            authz,
            routes,
            snapshot,
            tenancy,
            keys,
            mailer,
            decision_log,
            open_when_keyless,
            token_failures: FailureLimiter::new(settings_failures, Duration::from_secs(60)),
        }))
    }

    /// Starts the background work: mail sender, invite expiry sweep and the
    /// decision log writer.
    pub fn spawn_background(&self) -> Background {
        let s = &self.settings;
        let retry = RetryPolicy {
            max_attempts: s.mail_max_attempts,
            base: Duration::from_millis(s.mail_retry_base_ms),
            max: Duration::from_millis(s.mail_retry_max_ms),
            poll: Duration::from_millis(s.mail_poll_ms),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mail_sender =
            delivery::spawn_sender(self.tenancy.clone(), self.mailer.clone(), retry, stopped);
        let mut others = vec![delivery::spawn_sweeper(
            self.tenancy.clone(),
            Duration::from_millis(s.invite_sweep_ms),
        )];
        others.extend(
            self.decision_log
                .as_ref()
                .and_then(|log| log.spawn_writer()),
        );
        Background {
            stop,
            mail_sender: Some(mail_sender),
            others,
        }
    }

    /// Whether calls without a key are admitted right now.
    pub fn keyless_mode(&self) -> bool {
        self.open_when_keyless && self.keys.never_created()
    }
}

/// The background tasks of a running sidecar.
#[derive(Debug)]
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    mail_sender: Option<tokio::task::JoinHandle<()>>,
    others: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    pub fn push(&mut self, task: tokio::task::JoinHandle<()>) {
        self.others.push(task);
    }

    /// Stops everything: the mail sender finishes the message it is sending
    /// (within `grace`), the rest stop at once.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        if let Some(sender) = self.mail_sender.take() {
            let abort = sender.abort_handle();
            if tokio::time::timeout(grace, sender).await.is_err() {
                tracing::warn!("the mail sender did not stop in time; its message stays queued");
                abort.abort();
            }
        }
        self.abort();
    }

    fn abort(&self) {
        for task in self.others.iter().chain(&self.mail_sender) {
            task.abort();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Runs the sidecar until SIGINT or SIGTERM.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let app = App::open(settings)?;
    let listen = app.settings.listen;
    if app.keys.never_created() {
        if !listen.ip().is_loopback() {
            return Err(StartError::NoKeys(listen));
        }
        tracing::warn!(
            "DEVELOPMENT MODE: no API key exists, so every call on this loopback address is accepted \
             with the admin scope; create a key with `tenantgate keys create --scope admin` to require keys"
        );
    }
    let sources: Vec<Arc<dyn watch::Source>> = vec![app.authz.clone(), app.routes.clone()];
    let _watcher = watch::watch_all(
        sources.clone(),
        Duration::from_millis(app.settings.reload_debounce_ms),
    )?;
    let mut tasks = app.spawn_background();
    tasks.push(watch::spawn_poller(
        sources,
        Duration::from_millis(app.settings.reload_poll_ms),
    ));
    tasks.push(spawn_key_refresher(app.clone()));
    tasks.push(crate::metrics::spawn_upkeep(Duration::from_secs(5)));
    let snapshot = app.snapshot.load();
    tracing::info!(
        policy_revision = %app.authz.revision(),
        data_revision = snapshot.revision(),
        orgs = snapshot.org_count(),
        users = snapshot.user_count(),
        mail = ?app.mailer.transport(),
        "ready"
    );
    drop(snapshot);
    let grace = Duration::from_millis(app.settings.shutdown_grace_ms);
    let result = crate::http::serve(app, listen).await;
    tasks.stop(grace).await;
    result
}

fn spawn_key_refresher(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(app.settings.key_refresh_ms));
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let app = app.clone();
            let refreshed = tokio::task::spawn_blocking(move || app.keys.refresh(&app.store)).await;
            if let Ok(Err(e)) = refreshed {
                tracing::warn!(error = %e, "cannot refresh API keys; keeping the last known set");
            }
        }
    })
}
