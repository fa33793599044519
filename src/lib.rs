//! tenantgate: an authorization sidecar for multi-tenant SaaS applications.
//!
//! Organizations, workspaces and memberships live in SQLite ([`store`]); an
//! in-memory [`snapshot`] of who holds which role feeds Cedar decisions
//! ([`authz`]) whose policy files hot-reload ([`watch`]); the rules of the
//! domain live in [`domain`] and the HTTP contract in [`http`].

pub mod app;
pub mod authz;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod decision_log;
pub mod domain;
pub mod http;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod policytest;
pub mod ratelimit;
pub mod routes;
pub mod secret;
pub mod snapshot;
pub mod store;
pub mod watch;
