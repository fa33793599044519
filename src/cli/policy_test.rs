//! `policy test` and `policy impact`: run the policy test files, and show
//! which decisions a change of the policy folder would change.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::policy::{settings, OutputFormat, Source};
use crate::authz::{Authz, RoleMap};
use crate::config::Overrides;
use crate::model::OrgAccess;
use crate::policytest::{self, Suite};
use crate::store::{Store, StoreError};

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    source: Source,
    /// Folder of the Cedar schema files [default: ./schema].
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Test files or folders [default: <policies>/tests].
    tests: Vec<PathBuf>,
    /// List every check, not only the failures.
    #[arg(long, short)]
    verbose: bool,
    /// `text` for people, `json` (one object) for CI.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ImpactArgs {
    #[command(flatten)]
    source: Source,
    /// Folder of the Cedar schema files [default: ./schema].
    #[arg(long)]
    schema: Option<PathBuf>,
    /// The proposed policy folder (e.g. a checkout of the pull request).
    #[arg(long)]
    against: PathBuf,
    /// Schema folder of the proposed set [default: the same as --schema].
    #[arg(long)]
    against_schema: Option<PathBuf>,
    /// Folder of the database whose memberships are sampled [default: ./data];
    /// without a database only the test cases are compared.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…`: sample the shared PostgreSQL store instead.
    #[arg(long)]
    database_url: Option<String>,
    /// Organizations sampled from the database.
    #[arg(long, default_value_t = policytest::DEFAULT_SAMPLE_ORGS)]
    sample: usize,
    /// Exit 1 when any decision changes (for a CI step that must be acknowledged).
    #[arg(long)]
    fail_on_change: bool,
    /// `text` for people, `json` (one object) for CI.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

fn load_suites(paths: &[PathBuf]) -> Result<Vec<Suite>, String> {
    let mut suites = Vec::new();
    for path in paths {
        // A missing folder holds no tests (reported by the caller).
        let folder = path.is_dir() || (!path.exists() && path.extension().is_none());
        if folder {
            suites.extend(policytest::load_dir(path).map_err(|e| e.to_string())?);
        } else {
            suites.push(policytest::load_file(path).map_err(|e| e.to_string())?);
        }
    }
    Ok(suites)
}

pub fn test(args: TestArgs) -> Result<ExitCode, String> {
    let settings = settings(args.source, args.schema, Overrides::default())?;
    let authz = Authz::load(&settings.policies, &settings.schema).map_err(|e| e.to_string())?;
    let paths = if args.tests.is_empty() {
        vec![policytest::tests_dir(&settings.policies)]
    } else {
        args.tests
    };
    let suites = load_suites(&paths)?;
    if suites.is_empty() {
        return Err(format!(
            "no test files (*.yaml, *.yml) in {}",
            paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let report = policytest::run(&authz, &suites, args.verbose);
    print_report(args.format, &report, || report.render())?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn impact(args: ImpactArgs) -> Result<ExitCode, String> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        database_url: args.database_url,
        ..Overrides::default()
    };
    let settings = settings(args.source, args.schema, overrides)?;
    let before = Authz::load(&settings.policies, &settings.schema)
        .map_err(|e| format!("the current set: {e}"))?;
    let after_schema = args.against_schema.as_ref().unwrap_or(&settings.schema);
    let after =
        Authz::load(&args.against, after_schema).map_err(|e| format!("the proposed set: {e}"))?;
    // The cases of both sides: a change may add tests of its own.
    let mut suites = Vec::new();
    for dir in [&settings.policies, &args.against] {
        let dir = policytest::tests_dir(dir);
        suites.extend(policytest::load_dir(&dir).map_err(|e| e.to_string())?);
    }
    let (data, roles) = database(&settings.database())?;
    // Both sides serve the database's custom roles, as the server would.
    before
        .set_all_roles(roles.clone())
        .map_err(|e| format!("the current set with the database's roles: {e}"))?;
    after
        .set_all_roles(roles)
        .map_err(|e| format!("the proposed set with the database's roles: {e}"))?;
    let report = policytest::impact(&before, &after, &suites, &data, args.sample);
    print_report(args.format, &report, || report.render())?;
    Ok(if args.fail_on_change && report.flips() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One JSON object for `--format json`, else the text report.
fn print_report(
    format: OutputFormat,
    report: &impl serde::Serialize,
    text: impl FnOnce() -> String,
) -> Result<(), String> {
    match format {
        OutputFormat::Json => {
            println!(
                "{}",
                serde_json::to_string(report).map_err(|e| e.to_string())?
            );
        }
        OutputFormat::Text => print!("{}", text()),
    }
    Ok(())
}

/// The memberships and custom roles of the database, or none when there
/// is no database.
fn database(location: &crate::store::Location) -> Result<(Vec<OrgAccess>, RoleMap), String> {
    if let crate::store::Location::File(path) = location {
        if !path.is_file() {
            eprintln!(
                "no database at `{}`: comparing the test cases only",
                path.display()
            );
            return Ok((Vec::new(), RoleMap::new()));
        }
    }
    let store = Store::connect(location).map_err(|e| e.to_string())?;
    let access = store
        .read(|db| db.load_all_access())
        .map_err(|e: StoreError| e.to_string())?;
    let roles = crate::store::role_map(&store).map_err(|e| e.to_string())?;
    Ok((access, roles))
}
