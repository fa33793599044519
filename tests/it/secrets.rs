//! Secrets never leak: with the most verbose logs and the decision log on,
//! neither the API key nor invite tokens appear in any log, log file or
//! database file; answers carry a request id.

use serde_json::{json, Value};

use std::time::Duration;

use crate::support::*;

/// Every byte of every file under `dir`, for searching.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend(bytes);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tokens_never_reach_logs_or_the_database() {
    let dir = workdir();
    let out = tenantgate_cli(dir.path(), &["keys", "create", "--scope", "admin"]);
    let key = stdout_of(&out).lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("tgk_"));
    let log = dir.path().join("server.log");
    let decisions = dir.path().join("decisions.jsonl");
    let server = Server::start_logging(
        dir.path(),
        &[],
        &[
            ("RUST_LOG", "trace"),
            ("TENANTGATE_DECISION_LOG", decisions.to_str().unwrap()),
        ],
        Some(&log),
    );
    let c = client();
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = c
            .request(method, server.url(path))
            .bearer_auth(&key)
            .header("x-actor-id", "olive");
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send()
    };
    let created = send(
        reqwest::Method::POST,
        "/v1/orgs",
        Some(json!({"id": "acme", "name": "Acme", "owner": {"id": "olive", "email": "olive@example.com"}})),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        created.headers().get("x-request-id").is_some(),
        "no request id"
    );
    let invited: Value = send(
        reqwest::Method::POST,
        "/v1/orgs/acme/invites",
        Some(json!({"invites": [{"email": "kim@example.com", "role": "member"}]})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let token = invited["invites"][0]["token"].as_str().unwrap().to_owned();
    let decision = send(
        reqwest::Method::POST,
        "/v1/is_authorized",
        Some(json!({"principal": "User::\"olive\"", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""})),
    )
    .await
    .unwrap();
    assert_eq!(decision.status(), 200);
    let accepted = send(
        reqwest::Method::POST,
        "/v1/invites/accept",
        Some(json!({"token": token, "user": {"id": "kim", "email": "kim@example.com"}})),
    )
    .await
    .unwrap();
    assert_eq!(accepted.status(), 200);
    // A wrong key is refused without echoing it.
    let wrong = format!("{key}x");
    let refused = c
        .get(server.url("/v1/orgs/acme"))
        .bearer_auth(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(!refused.text().await.unwrap().contains(&wrong));
    // The decision log is written behind the answers: give it time to land
    // (bounded) before stopping the server.
    eventually(Duration::from_secs(10), || async {
        std::fs::metadata(&decisions).is_ok_and(|m| m.len() > 0)
    })
    .await;
    drop(server);

    let logged = std::fs::read(&log).unwrap();
    assert!(
        contains(&logged, "POST"),
        "the trace log is empty: nothing was checked"
    );
    assert!(
        std::fs::metadata(&decisions).unwrap().len() > 0,
        "no decision was logged"
    );
    for (what, bytes) in [
        ("the server log", logged),
        ("the decision log", std::fs::read(&decisions).unwrap()),
        ("the data folder", all_bytes(&dir.path().join("data"))),
    ] {
        assert!(!contains(&bytes, &key), "the API key is in {what}");
        assert!(!contains(&bytes, &wrong[4..]), "the wrong key is in {what}");
        assert!(!contains(&bytes, &token), "the invite token is in {what}");
    }
}
