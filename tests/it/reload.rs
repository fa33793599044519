//! Hot reload with the real file watcher on a temp folder: an edit flips a
//! decision, a broken set is rejected whole while the last good one keeps
//! serving, a fix recovers.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(15);

fn watch(t: &TestApp) -> tenantgate::watch::PolicyWatcher {
    tenantgate::watch::watch(t.app.authz.clone(), Duration::from_millis(100)).unwrap()
}

const FORBID_BILLING: &str = r#"
// Nobody reads billing during the audit.
@id("freeze-billing")
forbid (principal, action == Action::"billing.read", resource);
"#;

#[tokio::test]
async fn an_edit_flips_the_decision_and_a_removal_flips_it_back() {
    let t = TestApp::new();
    t.seed_acme().await;
    let _watcher = watch(&t);
    let before = t.get("/v1/policies", None).await.expect(200).body["revision"].clone();
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );

    let file = t.policies_dir().join("freeze.cedar");
    std::fs::write(&file, FORBID_BILLING).unwrap();
    assert!(
        eventually(WAIT, || async {
            !t.allowed("carl", "billing.read", org("acme"), json!({}))
                .await
        })
        .await,
        "the forbid never took effect"
    );
    let info = t.get("/v1/policies", None).await.expect(200);
    assert_ne!(info.body["revision"], before);
    assert_eq!(info.body["last_reload"]["ok"], true);
    let denied = t
        .decide("carl", "billing.read", org("acme"), json!({}))
        .await
        .expect(200);
    assert_eq!(denied.body["reasons"], json!(["freeze-billing"]));
    assert_eq!(denied.body["policy_revision"], info.body["revision"]);

    std::fs::remove_file(&file).unwrap();
    assert!(
        eventually(WAIT, || async {
            t.allowed("carl", "billing.read", org("acme"), json!({}))
                .await
        })
        .await,
        "removing the file never took effect"
    );
    assert_eq!(t.get("/v1/policies", None).await.body["revision"], before);
}

#[tokio::test]
async fn a_broken_set_is_rejected_whole_and_a_fix_recovers() {
    let t = TestApp::new();
    t.seed_acme().await;
    let _watcher = watch(&t);
    let good = t.get("/v1/policies", None).await.expect(200).body["revision"].clone();

    // One valid forbid and one broken file land together: neither applies.
    std::fs::write(t.policies_dir().join("freeze.cedar"), FORBID_BILLING).unwrap();
    std::fs::write(
        t.policies_dir().join("broken.cedar"),
        "permit(principal, action, resource",
    )
    .unwrap();
    let rejected = eventually(WAIT, || async {
        t.get("/v1/policies", None).await.body["last_reload"]["ok"] == json!(false)
    })
    .await;
    assert!(rejected, "the broken set was not reported");
    let info = t.get("/v1/policies", None).await.expect(200);
    assert_eq!(info.body["revision"], good, "the broken set went live");
    let error = info.body["last_reload"]["error"].as_str().unwrap();
    assert!(error.contains("broken.cedar:1:"), "{error}");
    // Old decisions continue, including the ones the new file would change.
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );
    assert!(
        t.allowed("olive", "org.delete", org("acme"), json!({}))
            .await
    );

    // Fixing the file applies the whole new set.
    std::fs::write(
        t.policies_dir().join("broken.cedar"),
        "// fixed: nothing here\n",
    )
    .unwrap();
    assert!(
        eventually(WAIT, || async {
            !t.allowed("carl", "billing.read", org("acme"), json!({}))
                .await
        })
        .await,
        "the fixed set never went live"
    );
    let info = t.get("/v1/policies", None).await.expect(200);
    assert_eq!(info.body["last_reload"]["ok"], true);
    assert_eq!(info.body["last_reload"]["error"], json!(null));
}

#[tokio::test]
async fn a_set_that_fails_validation_is_rejected() {
    let t = TestApp::new();
    t.seed_acme().await;
    let _watcher = watch(&t);
    let good = t.get("/v1/policies", None).await.expect(200).body["revision"].clone();
    // Parses, but names an attribute the schema does not have.
    std::fs::write(
        t.policies_dir().join("typo.cedar"),
        "@id(\"typo\")\npermit (principal, action == Action::\"org.read\", resource is Organization)\nwhen { principal in resource.ownerz };\n",
    )
    .unwrap();
    assert!(
        eventually(WAIT, || async {
            t.get("/v1/policies", None).await.body["last_reload"]["ok"] == json!(false)
        })
        .await
    );
    let info = t.get("/v1/policies", None).await.expect(200);
    assert_eq!(info.body["revision"], good);
    let error = info.body["last_reload"]["error"].as_str().unwrap();
    assert!(
        error.contains("typo.cedar:3:") && error.contains("typo"),
        "{error}"
    );

    // A schema edit that breaks the policies is rejected too.
    std::fs::remove_file(t.policies_dir().join("typo.cedar")).unwrap();
    assert!(
        eventually(WAIT, || async {
            t.get("/v1/policies", None).await.body["last_reload"]["ok"] == json!(true)
        })
        .await
    );
    let schema_file = t.app.settings.schema.join("tenantgate.cedarschema");
    let schema = std::fs::read_to_string(&schema_file).unwrap();
    std::fs::write(&schema_file, schema.replace("accounting: Role,", "")).unwrap();
    assert!(
        eventually(WAIT, || async {
            t.get("/v1/policies", None).await.body["last_reload"]["ok"] == json!(false)
        })
        .await
    );
    assert!(
        t.allowed("carl", "billing.read", org("acme"), json!({}))
            .await
    );
}

#[tokio::test]
async fn duplicate_policy_ids_are_rejected() {
    let t = TestApp::new();
    let dup = "@id(\"admins-update-org\")\npermit (principal, action == Action::\"org.read\", resource);\n";
    std::fs::write(t.policies_dir().join("dup.cedar"), dup).unwrap();
    let err = t.app.authz.reload().unwrap_err().to_string();
    assert!(
        err.contains("admins-update-org") && err.contains("already used"),
        "{err}"
    );
}

#[tokio::test]
async fn policy_text_is_validated_against_the_loaded_schema() {
    let t = TestApp::new();
    let ok = t
        .post(
            "/v1/policies/validate",
            None,
            json!({"policies": "@id(\"x\")\npermit (principal, action == Action::\"org.read\", resource is Organization) when { principal in resource.admins };"}),
        )
        .await
        .expect(200);
    assert_eq!(ok.body["valid"], true);
    assert_eq!(ok.body["errors"], json!([]));
    let bad = t
        .post(
            "/v1/policies/validate",
            None,
            json!({"policies": "permit (principal, action == Action::\"org.read\", resource is Organization)\nwhen { principal in resource.nope };"}),
        )
        .await
        .expect(200);
    assert_eq!(bad.body["valid"], false);
    assert_eq!(bad.body["errors"][0]["line"], 2);
    let syntax = t
        .post(
            "/v1/policies/validate",
            None,
            json!({"policies": "permit (principal"}),
        )
        .await
        .expect(200);
    assert_eq!(syntax.body["valid"], false);
    t.post("/v1/policies/validate", None, json!({"text": "x"}))
        .await
        .expect_error(400, "invalid_request");
}
