//! The integration tests: one binary, shared helpers in `support`.
//! Real SQLite files in temp folders, the real file watcher, real HTTP for
//! the end-to-end tests and `oneshot` on the router for the rest.

// Tests state their expectations with unwrap/expect/panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod smtp;
mod support;

mod bounded;
mod contention;
mod decision_log;
mod decisions;
mod differential;
mod differential_oracle;
mod durability;
mod e2e;
mod errors;
mod faults;
mod forward;
mod hostile;
mod invites;
mod matrix;
mod members;
mod metrics;
mod nginx;
mod normalization;
mod notes;
mod permissions;
mod policy_cli;
mod policy_tests;
mod reload;
mod role_limits;
mod role_rights;
mod roles;
mod secrets;
mod tenant_ids;
mod traefik;
mod ui_questions;
mod walkthrough;
mod workspaces;
