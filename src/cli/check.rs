//! `tenantgate check`: one decision from the command line, against the
//! database and policy files the sidecar would use, showing which policies
//! decided and where they are.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use crate::authz::{Authz, DecisionRequest};
use crate::config::{Overrides, Settings};
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The principal, e.g. `User::"alice"`.
    #[arg(long)]
    principal: String,
    /// The action, e.g. `Action::"org.read"` (or just `org.read`).
    #[arg(long)]
    action: String,
    /// The resource, e.g. `Organization::"acme"`.
    #[arg(long)]
    resource: String,
    /// The context, as a JSON object.
    #[arg(long)]
    context: Option<String>,
    /// The host's own entities, as a JSON array.
    #[arg(long)]
    entities: Option<String>,
    /// TOML settings file.
    #[arg(long, env = "TENANTGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Folder of the database [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…`: the shared PostgreSQL store instead of the SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Folder of the Cedar policy files [default: ./policies].
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Folder of the Cedar schema files [default: ./schema].
    #[arg(long)]
    schema: Option<PathBuf>,
}

fn json_arg(name: &str, text: Option<&str>) -> Result<Option<Value>, String> {
    text.map(|t| serde_json::from_str(t).map_err(|e| format!("--{name} is not valid JSON: {e}")))
        .transpose()
}

pub fn run(args: CheckArgs) -> Result<(), String> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        database_url: args.database_url,
        policies: args.policies,
        schema: args.schema,
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides).map_err(|e| e.to_string())?;
    let authz = Authz::load(&settings.policies, &settings.schema).map_err(|e| e.to_string())?;
    let location = settings.database();
    if let crate::store::Location::File(path) = &location {
        if !path.is_file() {
            return Err(format!("no database at `{}`", path.display()));
        }
    }
    let store = Store::connect(&location).map_err(|e| e.to_string())?;
    // Custom roles are policies too: decide with them, as the server does.
    authz
        .set_all_roles(crate::store::role_map(&store).map_err(|e| e.to_string())?)
        .map_err(|e| format!("the database's custom roles: {e}"))?;
    let (access, revision) = store
        .read(|db| Ok::<_, StoreError>((db.load_all_access()?, db.data_revision()?)))
        .map_err(|e| e.to_string())?;
    let snapshot = Snapshot::build(access, revision);
    let action = if args.action.contains("::") {
        args.action.clone()
    } else {
        format!("Action::\"{}\"", args.action)
    };
    let req = DecisionRequest {
        principal: Value::String(args.principal),
        action: Value::String(action),
        resource: Value::String(args.resource),
        context: json_arg("context", args.context.as_deref())?,
        entities: json_arg("entities", args.entities.as_deref())?,
    };
    let decision = authz.decide(&snapshot, &req).map_err(|e| e.to_string())?;
    println!("decision: {:?}", decision.decision);
    if decision.reasons.is_empty() {
        println!("determining policies: none (no permit applies: denied by default)");
    } else {
        println!("determining policies:");
        for id in &decision.reasons {
            let location = authz.policy_location(id).unwrap_or_else(|| "?".to_owned());
            println!("  {id}  {location}");
        }
    }
    for error in &decision.errors {
        println!("error in `{}`: {}", error.policy, error.message);
    }
    println!(
        "policy revision: {}  data revision: {}",
        decision.policy_revision, decision.data_revision
    );
    Ok(())
}
