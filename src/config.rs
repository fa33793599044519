//! Settings: built-in defaults < TOML file < `TENANTGATE_*` environment <
//! command-line flags, merged into one struct.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Every setting of the sidecar. Each one can be set in the TOML file as
/// `name = value`, in the environment as `TENANTGATE_NAME`, and the main
/// ones as `--name` flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on. Anything but loopback requires API keys.
    pub listen: SocketAddr,
    /// Folder of the SQLite database and the mail folder.
    pub data_dir: PathBuf,
    /// `postgres://…` selects the shared PostgreSQL store (several replicas
    /// on one database); unset keeps the embedded SQLite file in `data_dir`.
    /// libpq's `sslmode`/`sslrootcert` (in the URL, else `PGSSLMODE`,
    /// `PGSSLROOTCERT`) choose TLS.
    pub database_url: Option<String>,
    /// Folder of the Cedar policy files (`*.cedar`).
    pub policies: PathBuf,
    /// Folder of the Cedar schema files (`*.cedarschema`, `*.cedarschema.json`).
    pub schema: PathBuf,
    /// SMTP server URL (`smtp://`, `smtps://`); unset writes `.eml` files.
    pub smtp_url: Option<String>,
    /// Sender of invitation emails.
    pub mail_from: String,
    /// Link in invitation emails; `{token}` is replaced by the invite token.
    pub accept_url_template: String,
    /// Folder with `invite.subject.txt`, `invite.txt`, `invite.html`
    /// replacing the built-in email templates (each one optional).
    pub mail_templates: Option<PathBuf>,
    /// Longest time one SMTP delivery may take, in ms.
    pub smtp_timeout_ms: u64,
    /// Delivery attempts before an email is marked failed.
    pub mail_max_attempts: u32,
    /// Wait before the first retry, doubled after each failure, in ms.
    pub mail_retry_base_ms: u64,
    /// Longest wait between retries, in ms.
    pub mail_retry_max_ms: u64,
    /// How often the sender looks for due mail, in ms (new invites wake it at once).
    pub mail_poll_ms: u64,
    /// Expiry of an invite when the request names none, in days (1–30).
    pub invite_expiry_days: u32,
    /// Invites an organization may create or resend per hour.
    pub invite_rate_per_hour: u32,
    /// Failed invite-token attempts (lookup, accept, decline with an
    /// unusable token or the wrong email) one end user may make per minute;
    /// beyond that their token calls get 429 until the minute ends. End
    /// users are told apart as `trusted_proxy_hops` says; otherwise per
    /// API key.
    pub invite_token_failures_per_minute: u32,
    /// How many proxies in front of the sidecar append to
    /// `X-Forwarded-For`: the end user's address is the entry this many
    /// places from the right. 0 (the default) never reads the header, so
    /// what a client wrote there cannot steer a per-user limit; limits then
    /// count per API key.
    pub trusted_proxy_hops: u32,
    /// How often expired invites are recorded as such in the audit log, in ms.
    pub invite_sweep_ms: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest time a request may take before it is answered 503, in ms.
    pub request_timeout_ms: u64,
    /// Longest time a client may take to send a request's head (line and
    /// headers), in ms; slower connections are closed.
    pub header_read_timeout_ms: u64,
    /// Open connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// On SIGTERM/SIGINT, how long requests in flight and the mail being
    /// sent may take to finish, in ms.
    pub shutdown_grace_ms: u64,
    /// Quiet time after a policy file change before reloading, in ms.
    pub reload_debounce_ms: u64,
    /// Interval of the fallback policy re-check (catches changes a file
    /// watcher can miss, e.g. a replaced folder), in ms.
    pub reload_poll_ms: u64,
    /// A new policy set must pass the test files in `<policies>/tests`
    /// (when there are any) before it serves, at start and on reload.
    pub require_policy_tests: bool,
    /// Interval at which API keys created or revoked by the CLI are picked up, in ms.
    pub key_refresh_ms: u64,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// The forward-auth routes file; unset: `routes.yaml` in the policies
    /// folder.
    pub routes: Option<PathBuf>,
    /// Header in which the proxy's authentication names the user of a
    /// forward-auth request.
    pub forward_auth_user_header: String,
    /// Decision log: `stdout` or a file path (JSON lines); unset: off.
    pub decision_log: Option<String>,
    /// Fraction of decisions logged, 0–1.
    pub decision_log_sample: f64,
    /// Most grants (permissions of custom roles, each one a generated
    /// policy) across all organizations together, at most 20,000; a role
    /// change that would add grants beyond it is refused.
    pub max_custom_role_grants: usize,
    /// Entries that may wait for the writer; beyond that they are dropped
    /// (counted), so logging never slows decisions.
    pub decision_log_buffer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8180)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            policies: PathBuf::from("./policies"),
            schema: PathBuf::from("./schema"),
            smtp_url: None,
            mail_from: "tenantgate <no-reply@localhost>".to_owned(),
            accept_url_template: "http://localhost:3000/invites/accept?token={token}".to_owned(),
            mail_templates: None,
            smtp_timeout_ms: 10_000,
            mail_max_attempts: 8,
            mail_retry_base_ms: 5_000,
            mail_retry_max_ms: 15 * 60 * 1000,
            mail_poll_ms: 1_000,
            invite_expiry_days: 7,
            invite_rate_per_hour: 500,
            invite_token_failures_per_minute: 60,
            trusted_proxy_hops: 0,
            invite_sweep_ms: 60_000,
            max_body_bytes: 1024 * 1024,
            request_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            max_connections: 1024,
            max_in_flight: 512,
            shutdown_grace_ms: 15_000,
            reload_debounce_ms: 200,
            reload_poll_ms: 5_000,
            require_policy_tests: true,
            key_refresh_ms: 2_000,
            log_format: LogFormat::Text,
            routes: None,
            forward_auth_user_header: "X-User-Id".to_owned(),
            decision_log: None,
            decision_log_sample: 1.0,
            max_custom_role_grants: crate::domain::MAX_CUSTOM_ROLE_GRANTS,
            decision_log_buffer: 10_000,
        }
    }
}

/// The settings that flags can override; `None` leaves the lower layers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<PathBuf>,
}

/// Most proxy hops `trusted_proxy_hops` may name.
pub const MAX_TRUSTED_PROXY_HOPS: u32 = 16;

/// Settings that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file `{0}` does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Value(String),
}

/// Names accepted from the environment (after `TENANTGATE_`).
const ENV_KEYS: [&str; 36] = [
    "listen",
    "data_dir",
    "database_url",
    "policies",
    "schema",
    "smtp_url",
    "mail_from",
    "accept_url_template",
    "mail_templates",
    "smtp_timeout_ms",
    "mail_max_attempts",
    "mail_retry_base_ms",
    "mail_retry_max_ms",
    "mail_poll_ms",
    "invite_expiry_days",
    "invite_rate_per_hour",
    "invite_token_failures_per_minute",
    "trusted_proxy_hops",
    "invite_sweep_ms",
    "max_body_bytes",
    "request_timeout_ms",
    "header_read_timeout_ms",
    "max_connections",
    "max_in_flight",
    "max_custom_role_grants",
    "shutdown_grace_ms",
    "reload_debounce_ms",
    "reload_poll_ms",
    "require_policy_tests",
    "key_refresh_ms",
    "log_format",
    "routes",
    "forward_auth_user_header",
    "decision_log",
    "decision_log_sample",
    "decision_log_buffer",
];

impl Settings {
    /// Merges the layers. `file` is the `--config` file, if any.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with_env(
            file,
            overrides,
            Env::prefixed("TENANTGATE_").only(&ENV_KEYS),
        )
    }

    /// The settings a TOML text gives over the defaults (no environment,
    /// no flags): what a settings file alone means.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(Box::new)?;
        settings.check()?;
        Ok(settings)
    }

    fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: Env,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file.to_owned()));
            }
            figment = figment.merge(Toml::file(file));
        }
        let settings: Settings = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("request_timeout_ms", self.request_timeout_ms),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("max_connections", self.max_connections as u64),
            ("max_in_flight", self.max_in_flight as u64),
            ("max_custom_role_grants", self.max_custom_role_grants as u64),
            ("shutdown_grace_ms", self.shutdown_grace_ms),
            ("reload_poll_ms", self.reload_poll_ms),
            ("key_refresh_ms", self.key_refresh_ms),
            ("smtp_timeout_ms", self.smtp_timeout_ms),
            ("mail_max_attempts", u64::from(self.mail_max_attempts)),
            ("mail_retry_base_ms", self.mail_retry_base_ms),
            ("mail_poll_ms", self.mail_poll_ms),
            ("invite_rate_per_hour", u64::from(self.invite_rate_per_hour)),
            ("invite_sweep_ms", self.invite_sweep_ms),
            (
                "invite_token_failures_per_minute",
                u64::from(self.invite_token_failures_per_minute),
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Value(format!(
                "`{name}` must be greater than 0"
            )));
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::Value(format!(
                    "`database_url` must be a postgres:// URL, not `{}`",
                    crate::store::redact_url(url)
                )));
            }
        }
        if self.max_custom_role_grants > crate::domain::MAX_CUSTOM_ROLE_GRANTS {
            return Err(ConfigError::Value(format!(
                "`max_custom_role_grants` must be at most {}",
                crate::domain::MAX_CUSTOM_ROLE_GRANTS
            )));
        }
        if !(0.0..=1.0).contains(&self.decision_log_sample) {
            return Err(ConfigError::Value(
                "`decision_log_sample` must be between 0 and 1".to_owned(),
            ));
        }
        if !(1..=30).contains(&self.invite_expiry_days) {
            return Err(ConfigError::Value(
                "`invite_expiry_days` must be between 1 and 30".to_owned(),
            ));
        }
        if self.trusted_proxy_hops > MAX_TRUSTED_PROXY_HOPS {
            return Err(ConfigError::Value(format!(
                "`trusted_proxy_hops` must be at most {MAX_TRUSTED_PROXY_HOPS}"
            )));
        }
        if !is_header_name(&self.forward_auth_user_header) {
            return Err(ConfigError::Value(format!(
                "`forward_auth_user_header` `{}` is not an HTTP header name",
                self.forward_auth_user_header
            )));
        }
        if !self.accept_url_template.contains("{token}") {
            return Err(ConfigError::Value(
                "`accept_url_template` must contain `{token}`".to_owned(),
            ));
        }
        Ok(())
    }

    /// The forward-auth routes file.
    pub fn routes_path(&self) -> PathBuf {
        self.routes
            .clone()
            .unwrap_or_else(|| self.policies.join("routes.yaml"))
    }

    /// Folder of the `.eml` files written when no SMTP URL is set.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// Path of the SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("tenantgate.sqlite")
    }

    /// Where the data lives: the PostgreSQL URL when one is set, else the
    /// SQLite file in `data_dir`.
    pub fn database(&self) -> crate::store::Location {
        match &self.database_url {
            Some(url) => crate::store::Location::Url(url.clone()),
            None => crate::store::Location::File(self.database_path()),
        }
    }
}

/// An HTTP header name (RFC 9110 token), of a sane length.
fn is_header_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
// figment's test jail returns its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_merge_file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tg.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"/from-file\"\npolicies = \"/p-file\"\nmax_body_bytes = 2048\n",
            )?;
            jail.set_env("TENANTGATE_DATA_DIR", "/from-env");
            jail.set_env("TENANTGATE_POLICIES", "/p-env");
            let flags = Overrides {
                policies: Some("/p-flag".into()),
                ..Overrides::default()
            };
            let s =
                Settings::load(Some(Path::new("tg.toml")), &flags).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(s.data_dir, PathBuf::from("/from-env"));
            assert_eq!(s.policies, PathBuf::from("/p-flag"));
            assert_eq!(s.max_body_bytes, 2048);
            assert_eq!(s.schema, PathBuf::from("./schema"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listne = \"127.0.0.1:1\"\n")?;
            assert!(Settings::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            jail.create_file("zero.toml", "max_body_bytes = 0\n")?;
            jail.create_file("header.toml", "forward_auth_user_header = \"X User\"\n")?;
            assert!(Settings::load(Some(Path::new("header.toml")), &Overrides::default()).is_err());
            assert!(Settings::load(Some(Path::new("zero.toml")), &Overrides::default()).is_err());
            assert!(
                Settings::load(Some(Path::new("missing.toml")), &Overrides::default()).is_err()
            );
            Ok(())
        });
    }
}
