//! The decision log: JSON lines of sampled decisions, written off the
//! request path, never holding keys.

use std::time::Duration;

use serde_json::{json, Value};

use tenantgate::model::Scope;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_logged_as_json_lines_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let file = path.display().to_string();
    let t = TestApp::builder()
        .with_background()
        .with_settings(move |s| s.decision_log = Some(file))
        .build();
    t.seed_acme().await;
    let key = tenantgate::keys::create(&t.app.store, Scope::Check, "log")
        .unwrap()
        .secret;
    t.app.keys.refresh(&t.app.store).unwrap();
    let ask = |user: &str, action: &str, context: Value| {
        json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": action},
               "resource": {"type": "Organization", "id": "acme"}, "context": context})
    };
    use axum::http::Method;
    t.request(
        Method::POST,
        "/v1/is_authorized",
        None,
        Some(&key),
        Some(ask("olive", "org.delete", json!({}))),
    )
    .await
    .expect(200);
    t.request(
        Method::POST,
        "/v1/is_authorized",
        None,
        Some(&key),
        Some(ask("adam", "member.invite", json!({"role": "owner"}))),
    )
    .await
    .expect(200);
    let batch = json!({"requests": [ask("mia", "org.read", json!({})), ask("mia", "org.delete", json!({}))]});
    t.request(
        Method::POST,
        "/v1/is_authorized/batch",
        None,
        Some(&key),
        Some(batch),
    )
    .await
    .expect(200);

    let written = eventually(Duration::from_secs(10), || async {
        std::fs::read_to_string(&path)
            .map(|s| s.lines().count() >= 4)
            .unwrap_or(false)
    })
    .await;
    assert!(
        written,
        "the log never got 4 lines: {:?}",
        std::fs::read_to_string(&path)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(&key[4..]),
        "an API key reached the decision log"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["principal"]["id"], "olive");
    assert_eq!(lines[0]["decision"], "Allow");
    assert_eq!(
        lines[0]["reasons"],
        json!(["owners-delete-or-transfer-org"])
    );
    assert!(lines[0]["policy_revision"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(lines[0]["latency_us"].is_u64() && lines[0]["data_revision"].is_u64());
    assert_eq!(lines[1]["decision"], "Deny");
    assert_eq!(lines[1]["context"], json!({"role": "owner"}));
    assert_eq!(lines[1]["reasons"], json!(["only-owners-grant-owner"]));
    assert_eq!(lines[2]["action"]["id"], "org.read");
    assert_eq!(lines[3]["decision"], "Deny");
}
