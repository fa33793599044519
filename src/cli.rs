//! The command line: `serve`, `keys create|list|revoke`, `dataset` and
//! `policy validate|fmt`.

mod check;
mod policy;
mod policy_test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{LogFormat, Overrides, Settings};
use crate::model::Scope;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "tenantgate",
    version,
    about = "Authorization sidecar for multi-tenant SaaS applications"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sidecar.
    Serve(ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write a deterministic benchmark dataset (and a decision request mix).
    Dataset(DatasetArgs),
    /// Check and format the Cedar policy files.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// One decision from the command line, against the database and policy
    /// files, with the determining policies and where they are written.
    Check(check::CheckArgs),
}

#[derive(Debug, Args)]
struct DatasetArgs {
    /// s (1k users, 100 orgs), m (100k users, 10k orgs, 200k memberships)
    /// or l (500k users, 50k orgs, 1M memberships).
    #[arg(long)]
    scale: String,
    /// Where to write decision request bodies, one JSON per line.
    #[arg(long)]
    requests: Option<PathBuf>,
    /// How many requests to write.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Include documents inside workspaces (needs examples/host's schema and policies).
    #[arg(long)]
    host_resources: bool,
    /// Seed of the request mix.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    common: Common,
}

/// Where settings come from; flags win over the environment, the environment
/// over the file.
#[derive(Debug, Args)]
struct Common {
    /// TOML settings file.
    #[arg(long, env = "TENANTGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Folder of the database and the mail folder [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…`: the shared PostgreSQL store instead of the SQLite
    /// file in the data folder.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on [default: 127.0.0.1:8180].
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Folder of the Cedar policy files [default: ./policies].
    #[arg(long)]
    policies: Option<PathBuf>,
    /// Folder of the Cedar schema files [default: ./schema].
    #[arg(long)]
    schema: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; the key itself is printed once, alone on the last line.
    Create {
        /// check (decisions only), manage (management on behalf of an actor) or admin (everything).
        #[arg(long)]
        scope: Scope,
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        common: Common,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a key by id.
    Revoke {
        /// The key id, as `keys list` shows it.
        id: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                data_dir: args.common.data_dir,
                database_url: args.common.database_url,
                policies: args.policies,
                schema: args.schema,
            };
            let settings = Settings::load(args.common.config.as_deref(), &overrides)
                .map_err(|e| e.to_string())?;
            init_logging(settings.log_format);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            runtime
                .block_on(crate::app::run(settings))
                .map_err(|e| e.to_string())?;
        }
        Command::Keys(command) => keys(command)?,
        Command::Dataset(args) => dataset(args)?,
        Command::Policy(command) => return policy::run(command),
        Command::Check(args) => check::run(args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn dataset(args: DatasetArgs) -> Result<(), String> {
    use crate::dataset::{self, Scale};
    let scale = Scale::parse(&args.scale)
        .ok_or_else(|| format!("unknown scale `{}`: expected s, m or l", args.scale))?;
    let store = open_store(args.common)?;
    let empty = store
        .read(|db| db.data_revision())
        .map_err(|e| e.to_string())?
        == 0;
    if !empty {
        return Err(format!(
            "`{}` already holds data; use an empty database",
            store.describe()
        ));
    }
    let started = std::time::Instant::now();
    dataset::write(&store, &scale).map_err(|e| e.to_string())?;
    println!(
        "wrote {} orgs, {} users, {} memberships, {} workspaces in {:.1} s",
        scale.orgs,
        scale.users,
        scale.memberships(),
        scale.orgs * scale.workspaces_per_org,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = args.requests {
        let file = std::fs::File::create(&path)
            .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        dataset::write_requests(&mut out, &scale, args.count, args.host_resources, args.seed)
            .and_then(|()| std::io::Write::flush(&mut out))
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        println!("wrote {} requests to {}", args.count, path.display());
    }
    Ok(())
}

fn open_store(common: Common) -> Result<Store, String> {
    let overrides = Overrides {
        data_dir: common.data_dir,
        database_url: common.database_url,
        ..Overrides::default()
    };
    let settings =
        Settings::load(common.config.as_deref(), &overrides).map_err(|e| e.to_string())?;
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|e| format!("cannot create `{}`: {e}", settings.data_dir.display()))?;
    }
    Store::connect(&settings.database()).map_err(|e| e.to_string())
}

fn keys(command: KeysCommand) -> Result<(), String> {
    match command {
        KeysCommand::Create {
            scope,
            name,
            common,
        } => {
            let store = open_store(common)?;
            let new = crate::keys::create(&store, scope, &name).map_err(|e| e.to_string())?;
            println!(
                "created key {} (scope {}); it is shown only this once:",
                new.key.id,
                scope.as_str()
            );
            println!("{}", new.secret);
        }
        KeysCommand::List { common } => {
            let store = open_store(common)?;
            let keys = store
                .read(|db| db.list_api_keys())
                .map_err(|e| e.to_string())?;
            println!(
                "{:<26} {:<7} {:<28} {:<28} NAME",
                "ID", "SCOPE", "CREATED", "REVOKED"
            );
            for k in keys {
                println!(
                    "{:<26} {:<7} {:<28} {:<28} {}",
                    k.id,
                    k.scope.as_str(),
                    k.created_at,
                    k.revoked_at.as_deref().unwrap_or("-"),
                    k.name
                );
            }
        }
        KeysCommand::Revoke { id, common } => {
            let store = open_store(common)?;
            let (revoked, _) = store
                .write(|db| db.revoke_api_key(&id))
                .map_err(|e| e.to_string())?;
            if !revoked {
                return Err(format!("no active key `{id}`"));
            }
            println!("revoked key {id}");
        }
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
