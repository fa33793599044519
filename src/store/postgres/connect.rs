//! Connection settings: a `postgres://` URL with libpq's TLS modes
//! (`sslmode` in the URL, else `PGSSLMODE`; `sslrootcert`, else
//! `PGSSLROOTCERT`), and a `Debug` that never shows the password.

use std::fmt;

use native_tls::{Certificate, TlsConnector};
use postgres::config::SslMode;
use postgres_native_tls::MakeTlsConnector;

use super::super::StoreError;

/// How TLS is used, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, certificate not checked (libpq's default).
    Prefer,
    /// TLS required, certificate not checked.
    Require,
    /// TLS required, certificate checked against the trusted roots.
    VerifyCa,
    /// TLS required, certificate and host name checked.
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, StoreError> {
        Ok(match value {
            "disable" | "allow" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(StoreError::Config(format!(
                    "unknown sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
                )))
            }
        })
    }
}

/// A parsed database URL.
#[derive(Clone)]
pub struct PgSettings {
    pub config: postgres::Config,
    pub tls: TlsMode,
    pub root_cert: Option<String>,
    /// The URL with its password replaced, for messages.
    redacted: String,
}

impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.redacted)
            .field("tls", &self.tls)
            .finish()
    }
}

impl PgSettings {
    /// Parses `url`; `sslmode` and `sslrootcert` query parameters, else the
    /// `PGSSLMODE` and `PGSSLROOTCERT` environment variables, pick TLS.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        Self::parse_with_env(url, |name| std::env::var(name).ok())
    }

    fn parse_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let redacted = redact(url);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut tls = None;
        let mut root_cert = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => tls = Some(TlsMode::parse(v)?),
                Some(("sslrootcert", v)) => root_cert = Some(v.to_owned()),
                _ => kept.push(pair),
            }
        }
        let tls = match tls {
            Some(mode) => mode,
            None => env("PGSSLMODE")
                .map(|v| TlsMode::parse(&v))
                .transpose()?
                .unwrap_or(TlsMode::Prefer),
        };
        let root_cert = root_cert.or_else(|| env("PGSSLROOTCERT"));
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: postgres::Config = rest.parse().map_err(|e| {
            StoreError::Config(format!("database URL `{redacted}` is not valid: {e}"))
        })?;
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("tenantgate");
        }
        Ok(Self {
            config,
            tls,
            root_cert,
            redacted,
        })
    }

    /// The URL without its password.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The TLS connector for this mode: libpq's `require` and `prefer`
    /// encrypt without checking the certificate, `verify-ca` checks it
    /// against the roots (the system's, plus `sslrootcert`), `verify-full`
    /// the host name too.
    pub fn tls_connector(&self) -> Result<MakeTlsConnector, StoreError> {
        let mut builder = TlsConnector::builder();
        match self.tls {
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => {
                builder
                    .danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true);
            }
            TlsMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            TlsMode::VerifyFull => {}
        }
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path).map_err(|e| {
                StoreError::Config(format!("cannot read sslrootcert `{path}`: {e}"))
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                StoreError::Config(format!(
                    "sslrootcert `{path}` is not a PEM certificate: {e}"
                ))
            })?;
            builder.add_root_certificate(cert);
        }
        let connector = builder
            .build()
            .map_err(|e| StoreError::Config(format!("cannot set up TLS: {e}")))?;
        Ok(MakeTlsConnector::new(connector))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_owned()
    };
    let tail = redact_query_password(tail);
    format!("{scheme}://{masked}@{host}{tail}")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = "postgres://app:s3cret@db.internal:5432/tg?password=other&sslmode=require";
        let settings = PgSettings::parse_with_env(url, |_| None).unwrap();
        let shown = format!("{settings:?} {}", settings.redacted());
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
        assert!(shown.contains("app:***@db.internal:5432/tg"), "{shown}");
        assert_eq!(settings.tls, TlsMode::Require);
    }

    #[test]
    fn sslmode_comes_from_the_url_then_the_environment() {
        let env = |name: &str| (name == "PGSSLMODE").then(|| "verify-full".to_owned());
        let from_env = PgSettings::parse_with_env("postgres://u@h/db", env).unwrap();
        assert_eq!(from_env.tls, TlsMode::VerifyFull);
        let from_url =
            PgSettings::parse_with_env("postgres://u@h/db?sslmode=disable", env).unwrap();
        assert_eq!(from_url.tls, TlsMode::Disable);
        let default = PgSettings::parse_with_env("postgres://u@h/db", |_| None).unwrap();
        assert_eq!(default.tls, TlsMode::Prefer);
        assert!(PgSettings::parse_with_env("postgres://u@h/db?sslmode=bogus", |_| None).is_err());
    }
}
