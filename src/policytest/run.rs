//! Running test suites against a policy set and reporting what they found.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::suite::{Case, Expect, Suite};
use crate::authz::{Authz, DecisionRequest, Outcome};
use crate::snapshot::Snapshot;

/// One check that did not get what its case expected.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub case: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub expected: Expect,
    /// `None` when the request could not be decided at all.
    pub got: Option<Expect>,
    /// The determining policies the case pinned, if it did.
    pub expected_reasons: Option<Vec<String>>,
    pub reasons: Vec<String>,
    pub errors: Vec<String>,
}

/// One check, for the verbose listing.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub case: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub got: Option<Expect>,
    pub reasons: Vec<String>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub file: String,
    pub name: String,
    pub checks: usize,
    pub failures: Vec<Failure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<Checked>,
}

/// What running every suite found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub suites: Vec<SuiteReport>,
    pub checks: usize,
    pub failed: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failed == 0
    }

    /// One line: `3 files, 412 checks, 0 failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} file{}, {} checks, {} failed",
            self.suites.len(),
            if self.suites.len() == 1 { "" } else { "s" },
            self.checks,
            self.failed
        )
    }

    /// The first `limit` failures, one line each, for a reload error.
    pub fn first_failures(&self, limit: usize) -> Vec<String> {
        self.suites
            .iter()
            .flat_map(|s| s.failures.iter().map(move |f| failure_line(&s.file, f)))
            .take(limit)
            .collect()
    }

    /// The readable report: every failure with what decided it, each
    /// file's count and a summary line (every check with `verbose`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for suite in &self.suites {
            let title = if suite.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", suite.name)
            };
            let status = if suite.failures.is_empty() {
                "ok"
            } else {
                "FAILED"
            };
            let _ = writeln!(
                out,
                "{}{title}: {} checks, {} failed ... {status}",
                suite.file,
                suite.checks,
                suite.failures.len()
            );
            for c in &suite.checked {
                let _ = writeln!(
                    out,
                    "  {} {}: {} {} {} -> {} [{}]",
                    if c.passed { "pass" } else { "FAIL" },
                    c.case,
                    c.principal,
                    c.action,
                    c.resource,
                    outcome_text(c.got),
                    c.reasons.join(", ")
                );
            }
            for failure in &suite.failures {
                let _ = writeln!(out, "  {}", failure_line(&suite.file, failure));
            }
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }
}

fn outcome_text(got: Option<Expect>) -> &'static str {
    match got {
        Some(Expect::Allow) => "allow",
        Some(Expect::Deny) => "deny",
        None => "error",
    }
}

fn id_list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

fn failure_line(file: &str, f: &Failure) -> String {
    let mut line = format!(
        "FAIL {file}: case `{}`: {} {} {}: expected {}, got {}",
        f.case,
        f.principal,
        f.action,
        f.resource,
        outcome_text(Some(f.expected)),
        outcome_text(f.got)
    );
    let _ = write!(line, "; determining policies: {}", id_list(&f.reasons));
    if let Some(expected) = &f.expected_reasons {
        let _ = write!(line, " (expected: {})", id_list(expected));
    }
    for error in &f.errors {
        let _ = write!(line, "; error: {error}");
    }
    line
}

/// Runs every suite against the policies `authz` serves now.
pub fn run(authz: &Authz, suites: &[Suite], verbose: bool) -> Report {
    let reports: Vec<SuiteReport> = suites
        .iter()
        .map(|s| run_suite(authz, s, verbose))
        .collect();
    Report {
        checks: reports.iter().map(|r| r.checks).sum(),
        failed: reports.iter().map(|r| r.failures.len()).sum(),
        suites: reports,
    }
}

/// Every check of a case: `(principal, action, request)`.
pub fn requests(case: &Case) -> impl Iterator<Item = DecisionRequest> + '_ {
    case.principals.iter().flat_map(move |principal| {
        case.actions.iter().map(move |action| DecisionRequest {
            principal: principal.clone(),
            action: action.clone(),
            resource: case.resource.clone(),
            context: case.context.clone(),
            entities: (!case.entities.is_empty()).then(|| Value::Array(case.entities.clone())),
        })
    })
}

fn run_suite(authz: &Authz, suite: &Suite, verbose: bool) -> SuiteReport {
    // A fixture that declares custom roles sees the files plus those roles.
    let own = match suite_authz(authz, suite) {
        Ok(own) => own,
        Err(e) => return broken(suite, &e),
    };
    let authz = own.as_ref().unwrap_or(authz);
    let snapshot = Snapshot::build(suite.fixture.clone(), 0);
    let mut failures = Vec::new();
    let mut checked = Vec::new();
    for case in &suite.cases {
        for req in requests(case) {
            let (got, reasons, errors) = match authz.decide(&snapshot, &req) {
                Ok(d) => (
                    Some(match d.decision {
                        Outcome::Allow => Expect::Allow,
                        Outcome::Deny => Expect::Deny,
                    }),
                    d.reasons,
                    d.errors
                        .into_iter()
                        .map(|e| format!("{}: {}", e.policy, e.message))
                        .collect::<Vec<_>>(),
                ),
                Err(e) => (None, Vec::new(), vec![e.to_string()]),
            };
            let passed = got == Some(case.expect)
                && case.reasons.as_ref().is_none_or(|want| *want == reasons);
            if verbose {
                checked.push(Checked {
                    case: case.name.clone(),
                    principal: uid_text(&req.principal),
                    action: uid_text(&req.action),
                    resource: uid_text(&req.resource),
                    got,
                    reasons: reasons.clone(),
                    passed,
                });
            }
            if !passed {
                failures.push(Failure {
                    case: case.name.clone(),
                    principal: uid_text(&req.principal),
                    action: uid_text(&req.action),
                    resource: uid_text(&req.resource),
                    expected: case.expect,
                    got,
                    expected_reasons: case.reasons.clone(),
                    reasons,
                    errors,
                });
            }
        }
    }
    SuiteReport {
        file: suite.path.clone(),
        name: suite.name.clone(),
        checks: suite.checks(),
        failures,
        checked,
    }
}

/// The decision point of a suite with custom roles of its own; `None`
/// when it declares none.
pub fn suite_authz(authz: &Authz, suite: &Suite) -> Result<Option<Authz>, String> {
    if suite.roles.is_empty() {
        return Ok(None);
    }
    let grantable = authz.grantable();
    for role in suite.roles.values().flatten() {
        if let Some(p) = role
            .permissions
            .iter()
            .find(|p| !grantable.iter().any(|g| &g.action == *p))
        {
            return Err(format!(
                "role `{}`: `{p}` is not a grantable permission",
                role.key
            ));
        }
    }
    authz
        .with_only_roles(suite.roles.clone())
        .map(Some)
        .map_err(|e| format!("the fixture's roles: {e}"))
}

/// A suite that cannot run: one failure per check, with the reason.
fn broken(suite: &Suite, error: &str) -> SuiteReport {
    let failures = suite
        .cases
        .iter()
        .flat_map(|case| requests(case).map(move |req| (case, req)))
        .map(|(case, req)| Failure {
            case: case.name.clone(),
            principal: uid_text(&req.principal),
            action: uid_text(&req.action),
            resource: uid_text(&req.resource),
            expected: case.expect,
            got: None,
            expected_reasons: case.reasons.clone(),
            reasons: Vec::new(),
            errors: vec![error.to_owned()],
        })
        .collect();
    SuiteReport {
        file: suite.path.clone(),
        name: suite.name.clone(),
        checks: suite.checks(),
        failures,
        checked: Vec::new(),
    }
}

/// `Type::"id"` for a uid in either form.
pub fn uid_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => match (map.get("type"), map.get("id")) {
            (Some(Value::String(t)), Some(Value::String(id))) => {
                format!("{t}::{}", Value::String(id.clone()))
            }
            _ => value.to_string(),
        },
        other => other.to_string(),
    }
}
