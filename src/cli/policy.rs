//! `policy validate`, `fmt`, `test` and `impact`: check, format, test and
//! review the policy files without starting the sidecar.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::authz::{self, FormatError, LoadError, Problem};
use crate::config::{Overrides, Settings};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load and validate the whole policy set against the schema, as `serve` does.
    Validate(ValidateArgs),
    /// Rewrite the policy files in Cedar's canonical format.
    Fmt(FmtArgs),
    /// Run the policy test files (`<policies>/tests/*.yaml`); exit 1 on any failure.
    Test(super::policy_test::TestArgs),
    /// List every decision that a proposed policy folder would change.
    Impact(super::policy_test::ImpactArgs),
}

/// Where the folders come from: flags win over the environment, the
/// environment over the settings file (as for `serve`).
#[derive(Debug, Args)]
pub struct Source {
    /// TOML settings file.
    #[arg(long, env = "TENANTGATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder of the Cedar policy files [default: ./policies].
    #[arg(long)]
    pub policies: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    source: Source,
    /// Folder of the Cedar schema files [default: ./schema].
    #[arg(long)]
    schema: Option<PathBuf>,
    /// `text` for people, `json` (one object) for CI.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    #[command(flatten)]
    source: Source,
    /// Change nothing: list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// What `policy validate --format json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    valid: bool,
    errors: &'a [Problem],
    warnings: &'a [Problem],
    policies: usize,
    files: usize,
}

/// Why one file was not formatted.
#[derive(Debug, thiserror::Error)]
enum FmtError {
    #[error(transparent)]
    Read(#[from] LoadError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("cannot write `{path}`: {source}")]
    Write { path: String, source: io::Error },
}

pub fn run(command: PolicyCommand) -> Result<ExitCode, String> {
    match command {
        PolicyCommand::Validate(args) => validate(args),
        PolicyCommand::Fmt(args) => fmt(args),
        PolicyCommand::Test(args) => super::policy_test::test(args),
        PolicyCommand::Impact(args) => super::policy_test::impact(args),
    }
}

/// The settings, with the folders named by flags over the other layers.
pub fn settings(
    source: Source,
    schema: Option<PathBuf>,
    overrides: Overrides,
) -> Result<Settings, String> {
    let overrides = Overrides {
        policies: source.policies,
        schema,
        ..overrides
    };
    Settings::load(source.config.as_deref(), &overrides).map_err(|e| e.to_string())
}

fn validate(args: ValidateArgs) -> Result<ExitCode, String> {
    let settings = settings(args.source, args.schema, Overrides::default())?;
    let (errors, summary) = match authz::validate_dirs(&settings.policies, &settings.schema) {
        Ok(summary) => (Vec::new(), Some(summary)),
        Err(errors) => (errors, None),
    };
    let warnings = summary.as_ref().map_or(&[][..], |s| &s.warnings[..]);
    match args.format {
        OutputFormat::Json => {
            let report = Report {
                valid: summary.is_some(),
                errors: &errors,
                warnings,
                policies: summary.as_ref().map_or(0, |s| s.policies),
                files: summary.as_ref().map_or(0, |s| s.files),
            };
            let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
            println!("{json}");
        }
        OutputFormat::Text => {
            for problem in &errors {
                print!("{}", render(problem));
            }
            for warning in warnings {
                let mut shown = warning.clone();
                shown.message = format!("warning: {}", warning.message);
                print!("{}", render(&shown));
            }
            match &summary {
                Some(s) => println!(
                    "ok: {} in {}, {}",
                    count(s.policies, "policy", "policies"),
                    count(s.files, "file", "files"),
                    count(s.warnings.len(), "warning", "warnings")
                ),
                None => println!("{}", count(errors.len(), "error", "errors")),
            }
        }
    }
    Ok(if summary.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `file:line:column: message`, then the source line with a caret under
/// the column when they are known.
fn render(problem: &Problem) -> String {
    let mut out = format!("{problem}\n");
    if let (Some(text), Some(column)) = (&problem.source_line, problem.column) {
        // Tabs stay tabs so the caret lines up however they are shown.
        let pad: String = text
            .chars()
            .take(column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&format!("    {text}\n    {pad}^\n"));
    }
    out
}

fn fmt(args: FmtArgs) -> Result<ExitCode, String> {
    let settings = settings(args.source, None, Overrides::default())?;
    let paths = authz::policy_paths(&settings.policies).map_err(|e| e.to_string())?;
    if paths.is_empty() {
        return Err(LoadError::NoPolicies {
            dir: settings.policies,
        }
        .to_string());
    }
    let mut changed = 0;
    let mut failed = false;
    for path in &paths {
        match format_file(path, args.check) {
            Ok(false) => {}
            Ok(true) if args.check => {
                changed += 1;
                println!("{}", path.display());
            }
            Ok(true) => println!("formatted {}", path.display()),
            Err(FmtError::Format(FormatError::Parse(problem))) => {
                failed = true;
                eprint!("{}", render(&problem));
            }
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    if changed > 0 {
        eprintln!(
            "{} not formatted; run `tenantgate policy fmt`",
            count(changed, "file is", "files are")
        );
    }
    Ok(if failed || changed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Formats one file; whether it changed (or would change, with `check`).
fn format_file(path: &Path, check: bool) -> Result<bool, FmtError> {
    let name = path.display().to_string();
    let text = authz::read_file(path)?;
    let formatted = authz::format_policies(&name, &text)?;
    if formatted == text {
        return Ok(false);
    }
    if !check {
        write_atomically(path, &formatted)
            .map_err(|source| FmtError::Write { path: name, source })?;
    }
    Ok(true)
}

/// Writes a temp file next to `path` (hidden, so the loader never reads
/// it), then renames it over `path`: a reload sees the old or the new file,
/// never half of one.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let target = fs::canonicalize(path)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::set_permissions(&temp, fs::metadata(&target)?.permissions())?;
        fs::rename(&temp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
