//! Policy test files: `tenantgate policy test` and `policy impact` on the
//! real binary, and the reload gate with the real file watcher.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(15);

/// A working folder with the shipped policies, schema and policy tests.
fn workdir_with_tests() -> tempfile::TempDir {
    let dir = workdir();
    copy_dir(
        &repo_dir("policies/tests"),
        &dir.path().join("policies/tests"),
    );
    dir
}

/// Admins may no longer read the org's billing: breaks one matrix case.
const FORBID_ADMIN_BILLING: &str = r#"
// Billing is for owners and accounting only, during the audit.
@id("no-billing-for-admins")
forbid (principal, action == Action::"billing.read", resource is Organization)
when { principal in resource.admins }
unless { principal in resource.owners };
"#;

#[test]
fn the_shipped_suite_passes_and_pins_the_matrix() {
    let dir = workdir_with_tests();
    let out = tenantgate_cli(dir.path(), &["policy", "test"]);
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("matrix.yaml (default permission matrix)"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("0 failed"), "{text}");

    let out = tenantgate_cli(dir.path(), &["policy", "test", "--format", "json"]);
    let report = json_of(&out);
    assert_eq!(report["failed"], 0);
    // Every action of the schema appears in the shipped suite.
    let checks = report["checks"].as_u64().unwrap();
    assert!(checks >= 150, "{checks}");
    let verbose = json_of(&tenantgate_cli(
        dir.path(),
        &["policy", "test", "--format", "json", "--verbose"],
    ));
    let actions: std::collections::BTreeSet<String> = verbose["suites"][0]["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["action"].as_str().unwrap().to_owned())
        .collect();
    let schema = std::fs::read_to_string(repo_dir("schema/tenantgate.cedarschema")).unwrap();
    for action in schema
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains('.'))
    {
        assert!(
            actions.contains(&format!("Action::\"{action}\"")),
            "`{action}` is not pinned by the shipped suite"
        );
    }
}

#[test]
fn a_policy_change_that_breaks_a_case_fails_with_a_readable_report() {
    let dir = workdir_with_tests();
    std::fs::write(
        dir.path().join("policies/freeze.cedar"),
        FORBID_ADMIN_BILLING,
    )
    .unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "test"]);
    let text = stdout_of(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("FAIL "))
        .unwrap_or_else(|| panic!("no failure listed: {text}"));
    for part in [
        "owners, admins and accounting read the org's billing",
        "User::\"bob\"",
        "Action::\"billing.read\"",
        "expected allow, got deny",
        "determining policies: no-billing-for-admins",
        "(expected: admins-and-accounting-read-billing)",
    ] {
        assert!(line.contains(part), "`{part}` missing from: {line}");
    }
    assert!(text.trim_end().ends_with("1 failed"), "{text}");

    let report = json_of(&tenantgate_cli(
        dir.path(),
        &["policy", "test", "--format", "json"],
    ));
    let failure = &report["suites"][0]["failures"][0];
    assert_eq!(failure["expected"], "allow");
    assert_eq!(failure["got"], "deny");
    assert_eq!(failure["reasons"], json!(["no-billing-for-admins"]));
}

#[test]
fn host_entity_fixtures_and_explicit_files_work() {
    let dir = workdir();
    let policies = dir.path().join("policies");
    let schema = dir.path().join("schema");
    let host = repo_dir("examples/host");
    std::fs::copy(
        host.join("documents.cedar"),
        policies.join("documents.cedar"),
    )
    .unwrap();
    std::fs::copy(
        host.join("host.cedarschema"),
        schema.join("host.cedarschema"),
    )
    .unwrap();
    let file = host.join("tests/documents.yaml");
    let out = tenantgate_cli(dir.path(), &["policy", "test", file.to_str().unwrap()]);
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("documents.yaml (documents): 10 checks, 0 failed"),
        "{text}"
    );

    // Without the host's policy, its allow cases fail.
    std::fs::remove_file(policies.join("documents.cedar")).unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "test", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout_of(&out));
}

#[test]
fn a_broken_test_file_is_an_error_naming_it() {
    let dir = workdir_with_tests();
    let tests = dir.path().join("policies/tests");
    std::fs::write(
        tests.join("bad.yaml"),
        "cases:\n  - name: typo\n    principal: alice\n    action: org.read\n    resource: Organization::\"acme\"\n    expect: maybe\n",
    )
    .unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "test"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml"), "{err}");

    // A folder without tests is reported, not silently passed.
    let empty = workdir();
    let out = tenantgate_cli(empty.path(), &["policy", "test"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no test files"));
}

/// `policy impact --against proposed` on a small sample, as JSON.
fn impact_json(dir: &std::path::Path) -> std::process::Output {
    tenantgate_cli(
        dir,
        &[
            "policy",
            "impact",
            "--against",
            "proposed",
            "--sample",
            "5",
            "--format",
            "json",
        ],
    )
}

#[test]
fn impact_lists_the_decisions_a_change_would_flip() {
    let dir = workdir_with_tests();
    let data = dir.path().join("data");
    let out = tenantgate_cli(
        dir.path(),
        &[
            "dataset",
            "--scale",
            "s",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let proposed = dir.path().join("proposed");
    copy_dir(&dir.path().join("policies"), &proposed);

    // The same set: nothing changes.
    let same = json_of(&impact_json(dir.path()));
    assert!(same["from_database"].as_u64().unwrap() > 500, "{same}");
    assert_eq!(same["changes"], json!([]));

    std::fs::write(proposed.join("freeze.cedar"), FORBID_ADMIN_BILLING).unwrap();
    let out = impact_json(dir.path());
    assert!(out.status.success());
    let report = json_of(&out);
    let changes = report["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    // Only admins' org billing reads flip, from allow to deny.
    for c in changes {
        assert_eq!(c["action"], "Action::\"billing.read\"", "{c}");
        assert_eq!(
            (c["before"].as_str(), c["after"].as_str()),
            (Some("allow"), Some("deny"))
        );
        assert_eq!(c["after_reasons"], json!(["no-billing-for-admins"]));
    }
    let sources: Vec<&str> = changes
        .iter()
        .map(|c| c["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.iter().any(|s| s.contains("matrix.yaml")),
        "{sources:?}"
    );
    assert!(sources.contains(&"database"), "{sources:?}");

    let out = tenantgate_cli(
        dir.path(),
        &[
            "policy",
            "impact",
            "--against",
            "proposed",
            "--sample",
            "5",
            "--fail-on-change",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(text.contains("allow -> deny: User::\"bob\""), "{text}");
    assert!(text.contains("changed decisions: "), "{text}");
}

#[tokio::test]
async fn reload_requires_the_tests_to_pass() {
    let t = TestApp::builder().with_policy_tests().build();
    t.seed_acme().await;
    let _watcher =
        tenantgate::watch::watch(t.app.authz.clone(), Duration::from_millis(100)).unwrap();
    let info = t.get("/v1/policies", None).await.expect(200).body;
    assert_eq!(info["tests"]["failed"], 0);
    assert!(info["tests"]["checks"].as_u64().unwrap() > 100, "{info}");
    let good = info["revision"].clone();

    // A change that breaks a case never goes live.
    let freeze = t.policies_dir().join("freeze.cedar");
    std::fs::write(&freeze, FORBID_ADMIN_BILLING).unwrap();
    let rejected = eventually(WAIT, || async {
        t.get("/v1/policies", None).await.body["last_reload"]["ok"] == false
    })
    .await;
    assert!(rejected, "the failing set was not rejected");
    let info = t.get("/v1/policies", None).await.body;
    let error = info["last_reload"]["error"].as_str().unwrap();
    assert!(error.contains("policy tests failed: 1 of"), "{error}");
    assert!(error.contains("User::\"bob\""), "{error}");
    assert_eq!(info["revision"], good);
    assert!(
        t.allowed("adam", "billing.read", org("acme"), json!({}))
            .await
    );

    // The same change with its test updated goes live.
    let matrix = t.policies_dir().join("tests/matrix.yaml");
    let text = std::fs::read_to_string(&matrix).unwrap().replace(
        "principal: [alice, bob, carol]\n    action: billing.read\n    resource: Organization::\"initech\"\n    expect: allow\n    reasons: [admins-and-accounting-read-billing]",
        "principal: [alice, carol]\n    action: billing.read\n    resource: Organization::\"initech\"\n    expect: allow\n    reasons: [admins-and-accounting-read-billing]",
    );
    std::fs::write(&matrix, text).unwrap();
    let live = eventually(WAIT, || async {
        !t.allowed("adam", "billing.read", org("acme"), json!({}))
            .await
    })
    .await;
    assert!(live, "the set with passing tests never went live");
    let info = t.get("/v1/policies", None).await.body;
    assert_eq!(info["last_reload"]["ok"], true);
    assert_eq!(info["tests"]["failed"], 0);
    assert_ne!(info["revision"], good);
}

#[tokio::test]
async fn the_gate_can_be_turned_off() {
    let t = TestApp::builder()
        .with_policy_tests()
        .with_settings(|s| s.require_policy_tests = false)
        .build();
    t.seed_acme().await;
    assert_eq!(t.get("/v1/policies", None).await.body["tests"], Value::Null);
    std::fs::write(t.policies_dir().join("freeze.cedar"), FORBID_ADMIN_BILLING).unwrap();
    t.app.authz.reload().unwrap();
    assert!(
        !t.allowed("adam", "billing.read", org("acme"), json!({}))
            .await
    );
}

#[test]
fn a_set_failing_its_tests_refuses_to_start() {
    let dir = workdir_with_tests();
    std::fs::write(
        dir.path().join("policies/freeze.cedar"),
        FORBID_ADMIN_BILLING,
    )
    .unwrap();
    let settings = tenantgate::config::Settings {
        data_dir: dir.path().join("data"),
        policies: dir.path().join("policies"),
        schema: dir.path().join("schema"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..tenantgate::config::Settings::default()
    };
    let err = tenantgate::app::App::open(settings)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains("policy tests failed"), "{err}");
}
