//! A fresh PostgreSQL database per test, dropped afterwards. The server is
//! `TENANTGATE_TEST_POSTGRES` (default: the local one, trust authentication).
//! Without a reachable server a test says SKIPPED, except under `CI`, where
//! a missing server is a failure.

use postgres::{Client, NoTls};

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A new empty database, or `None` (test skipped) without a server.
    pub(crate) fn create(label: &str) -> Option<Self> {
        let admin_url =
            std::env::var("TENANTGATE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.to_owned());
        let mut admin = match Client::connect(&admin_url, NoTls) {
            Ok(client) => client,
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("PostgreSQL is required under CI but unreachable at {admin_url}: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED {label}: no PostgreSQL at {admin_url} ({e})");
                return None;
            }
        };
        let name = format!("tg_{label}_{:016x}", rand::random::<u64>());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}?sslmode=disable");
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(&self.admin_url, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}
