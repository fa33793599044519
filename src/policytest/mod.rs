//! Policy tests: YAML files beside the policies (`policies/tests/*.yaml`)
//! that pin decisions, run by `tenantgate policy test` and, when required,
//! by every reload before a new set may serve. Also the impact of a policy
//! change: which decisions two sets disagree on.

mod impact;
mod run;
mod suite;

use std::path::{Path, PathBuf};

pub use impact::{impact, Change, ImpactReport, DEFAULT_SAMPLE_ORGS};
pub use run::{run, uid_text, Checked, Failure, Report, SuiteReport};
pub use suite::{
    load_dir, load_file, tests_dir, Case, Expect, Suite, SuiteError, MAX_CHECKS, MAX_FILES,
    TESTS_DIR,
};

use crate::authz::{Gate, TestStatus};

/// Most failures a gate keeps for `GET /v1/policies`.
const GATE_FAILURES: usize = 20;

/// The reload gate of a policy folder: a candidate set must pass the test
/// files in `<policies>/tests` (read again at every reload, so tests and
/// policies can change together). A folder without tests passes.
pub fn gate(policies: &Path) -> Gate {
    let dir: PathBuf = tests_dir(policies);
    Box::new(move |candidate| {
        let suites = load_dir(&dir).map_err(|e| e.to_string())?;
        if suites.is_empty() {
            return Ok(None);
        }
        let report = run(candidate, &suites, false);
        Ok(Some(TestStatus {
            files: report.suites.len(),
            checks: report.checks,
            failed: report.failed,
            failures: report.first_failures(GATE_FAILURES),
        }))
    })
}
