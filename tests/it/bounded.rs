//! What one decision may cost and what it may name: limits on a request's
//! own hierarchy, heavy calls kept off the runtime's threads, the request
//! timeout for decisions, answers that do not depend on the parse caches,
//! and the id rule for the sidecar's own entities.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};

use crate::support::*;

/// Adds a nesting host type (`Folder in [Folder, Workspace]`) and a policy
/// reading it through its workspace, then reloads.
fn with_folders(t: &TestApp) {
    std::fs::write(
        t.app.settings.schema.join("folders.cedarschema"),
        "entity Folder in [Folder, Workspace] { workspace: Workspace };\n\
         action \"folder.read\", \"folder.edit\" appliesTo { principal: User, resource: Folder };\n",
    )
    .unwrap();
    std::fs::write(
        t.policies_dir().join("folders.cedar"),
        "@id(\"workspace-members-read-folders\")\n\
         permit (principal, action == Action::\"folder.read\", resource is Folder)\n\
         when { principal in resource.workspace.members };\n",
    )
    .unwrap();
    t.app.authz.reload().unwrap();
}

/// The workspace of the folders.
const WS: &str = "ws1";

/// 1,000 folders, each under its workspace and under the folders
/// `parents(i)` of the ones before it.
fn folders(parents: impl Fn(usize) -> Vec<usize>) -> Value {
    let folders: Vec<Value> = (0..1000usize)
        .map(|i| {
            let mut links = vec![json!({"type": "Workspace", "id": WS})];
            links.extend(
                parents(i)
                    .into_iter()
                    .map(|p| json!({"type": "Folder", "id": format!("f{p}")})),
            );
            json!({
                "uid": {"type": "Folder", "id": format!("f{i}")},
                "attrs": {"workspace": {"__entity": {"type": "Workspace", "id": WS}}},
                "parents": links,
            })
        })
        .collect();
    Value::Array(folders)
}

/// Each folder under the `fan` folders just before it: one deep hierarchy
/// (f999 has 999 folders above it). `fan` 24 is ~24,000 parent links.
fn chain(fan: usize) -> Value {
    folders(|i| (i.saturating_sub(fan)..i).collect())
}

/// Each folder under up to three folders of lower levels: a shallow tree of
/// 1,000 folders with ~3,000 parent links and ~30,000 ancestor links.
fn tree() -> Value {
    folders(|i| {
        let mut p: Vec<usize> = if i == 0 {
            Vec::new()
        } else {
            vec![(i - 1) / 2, (i - 1) / 3, (i - 1) / 4]
        };
        p.dedup();
        p
    })
}

fn folder_question(entities: Value) -> Value {
    json!({
        "principal": {"type": "User", "id": "mia"},
        "action": {"type": "Action", "id": "folder.read"},
        "resource": {"type": "Folder", "id": "f999"},
        "entities": entities,
    })
}

fn permissions_body(entities: Value) -> Value {
    json!({"resource": {"type": "Folder", "id": "f999"}, "entities": entities})
}

#[tokio::test]
async fn nested_entities_over_the_parent_link_limit_are_invalid_request() {
    let t = TestApp::new();
    t.seed_acme().await;
    with_folders(&t);
    let body = folder_question(chain(24));
    assert!(serde_json::to_vec(&body).unwrap().len() < t.app.settings.max_body_bytes);
    let resp = t
        .post("/v1/is_authorized", None, body)
        .await
        .expect_error(400, "invalid_request");
    let detail = resp.body["detail"].as_str().unwrap();
    assert!(detail.contains("parent links"), "{detail}");
    t.post(
        "/v1/users/mia/permissions",
        None,
        permissions_body(chain(24)),
    )
    .await
    .expect_error(400, "invalid_request");
    let batch = json!({
        "requests": [{"principal": "User::\"mia\"", "action": "Action::\"folder.read\"", "resource": "Folder::\"f999\""}],
        "entities": chain(24),
    });
    t.post("/v1/is_authorized/batch", None, batch)
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn nested_entities_under_the_limit_are_decided() {
    let t = TestApp::new();
    t.seed_acme().await;
    with_folders(&t);
    // A shallow tree of 1,000 folders, ~3,000 parent links.
    let resp = t
        .post("/v1/is_authorized", None, folder_question(tree()))
        .await
        .expect(200);
    assert_eq!(resp.body["decision"], "Allow");
    let resp = t
        .post("/v1/users/mia/permissions", None, permissions_body(tree()))
        .await
        .expect(200);
    assert_eq!(resp.body["actions"], json!(["folder.read"]));
    // 1,000 folders in one chain (~3,000 parent links, but ~500,000
    // ancestor links) are refused rather than built.
    let resp = t
        .post("/v1/is_authorized", None, folder_question(chain(3)))
        .await
        .expect_error(400, "invalid_request");
    let detail = resp.body["detail"].as_str().unwrap();
    assert!(detail.contains("ancestor links"), "{detail}");
    // A cycle among the request's own entities is still refused.
    let mut cyclic = tree();
    cyclic[0]["parents"] = json!([{"type": "Folder", "id": "f999"}]);
    let resp = t
        .post(
            "/v1/is_authorized",
            None,
            json!({
                "principal": "User::\"mia\"", "action": "Action::\"folder.read\"",
                "resource": "Folder::\"f5\"", "entities": cyclic,
            }),
        )
        .await
        .expect_error(400, "invalid_request");
    assert!(resp.body["detail"].as_str().unwrap().contains("cycle"));
}

/// On a single-threaded runtime a decision evaluated on the runtime's own
/// thread would finish before anything else is served. Heavy calls run on
/// workers instead, so `/healthz` answers while they are still in flight.
#[tokio::test(flavor = "current_thread")]
async fn heavy_calls_leave_the_runtime_free() {
    let t = Arc::new(TestApp::new());
    t.seed_acme().await;
    with_folders(&t);
    let heavy = |t: Arc<TestApp>| {
        tokio::spawn(async move {
            t.post("/v1/users/mia/permissions", None, permissions_body(tree()))
                .await
        })
    };
    let first = heavy(t.clone());
    let second = heavy(t.clone());
    // Let both calls start (read their bodies, reach their evaluation).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    t.get("/healthz", None).await.expect(200);
    assert!(
        !first.is_finished() && !second.is_finished(),
        "/healthz was answered only after the heavy calls"
    );
    first.await.unwrap().expect(200);
    second.await.unwrap().expect(200);
}

#[tokio::test]
async fn a_decision_past_the_request_timeout_gets_the_timeout_answer() {
    let t = TestApp::builder()
        .with_settings(|s| s.request_timeout_ms = 1)
        .build();
    // No data: writes would not fit in a millisecond either, and the
    // decisions need none to be heavy.
    with_folders(&t);
    for (path, body) in [
        ("/v1/is_authorized", folder_question(tree())),
        ("/v1/users/mia/permissions", permissions_body(tree())),
    ] {
        let resp = t
            .post(path, None, body)
            .await
            .expect_error(503, "unavailable");
        assert!(resp.headers.contains_key("retry-after"));
    }
}

/// A schema with an enumerated type: only `free` and `pro` are plans.
fn with_plans(t: &TestApp) {
    std::fs::write(
        t.app.settings.schema.join("plans.cedarschema"),
        "entity Plan enum [\"free\", \"pro\"];\n\
         action \"plan.choose\" appliesTo { principal: User, resource: Plan };\n",
    )
    .unwrap();
    t.app.authz.reload().unwrap();
}

async fn choose(t: &TestApp, plan: &str) -> Resp {
    t.decide(
        "olive",
        "plan.choose",
        json!({"type": "Plan", "id": plan}),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn enumerated_ids_get_the_same_answer_cold_or_warm() {
    // A bogus plan first, then a real one, then the bogus one again.
    let t = TestApp::new();
    t.seed_acme().await;
    with_plans(&t);
    choose(&t, "bogus")
        .await
        .expect_error(400, "invalid_request");
    choose(&t, "free").await.expect(200);
    choose(&t, "bogus")
        .await
        .expect_error(400, "invalid_request");
    // A real plan first (the cache warm for this request shape), then bogus.
    let t = TestApp::new();
    t.seed_acme().await;
    with_plans(&t);
    choose(&t, "pro").await.expect(200);
    choose(&t, "bogus")
        .await
        .expect_error(400, "invalid_request");
    choose(&t, "free").await.expect(200);
    choose(&t, "bogus")
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn sidecar_ids_that_break_the_id_rule_are_invalid_request() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    let long = "u".repeat(129);
    let cases = [
        ("principal", json!({"type": "User", "id": ""}), org("acme")),
        (
            "principal",
            json!({"type": "User", "id": "a\u{1}b"}),
            org("acme"),
        ),
        (
            "principal",
            json!({"type": "User", "id": long}),
            org("acme"),
        ),
        (
            "principal",
            json!({"type": "User", "id": "ali ce"}),
            org("acme"),
        ),
        (
            "resource",
            json!({"type": "User", "id": "olive"}),
            json!({"type": "Organization", "id": "ac/me"}),
        ),
        (
            "resource",
            json!({"type": "User", "id": "olive"}),
            json!({"type": "Workspace", "id": ""}),
        ),
        (
            "resource",
            json!({"type": "User", "id": "olive"}),
            json!({"type": "Role", "id": "acme"}),
        ),
    ];
    for (field, principal, resource) in cases {
        let resp = t
            .post(
                "/v1/is_authorized",
                None,
                json!({"principal": principal, "action": "Action::\"org.read\"", "resource": resource}),
            )
            .await
            .expect_error(400, "invalid_request");
        let detail = resp.body["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{field}: ")), "{detail}");
    }
    // In a batch, the item is named.
    let resp = t
        .post(
            "/v1/is_authorized/batch",
            None,
            json!({"requests": [
                {"principal": "User::\"olive\"", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""},
                {"principal": "User::\"\"", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""},
            ]}),
        )
        .await
        .expect_error(400, "invalid_request");
    assert!(resp.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("request 1: principal: "));
    // Host types keep any id Cedar accepts.
    let resp = t
        .post(
            "/v1/is_authorized",
            None,
            json!({
                "principal": "User::\"mia\"", "action": "Action::\"document.read\"",
                "resource": {"type": "Document", "id": "a b/c\u{1}"},
                "entities": [{"uid": {"type": "Document", "id": "a b/c\u{1}"},
                              "attrs": {"workspace": {"__entity": {"type": "Workspace", "id": "ws1"}}},
                              "parents": [{"type": "Workspace", "id": "ws1"}]}],
            }),
        )
        .await
        .expect(200);
    assert_eq!(resp.body["decision"], "Allow");
}

#[tokio::test]
async fn forward_auth_refuses_a_sidecar_id_that_breaks_the_id_rule() {
    let routes = "routes:\n  - method: GET\n    path: \"/orgs/{org}/settings\"\n    action: org.update\n    resource: {type: Organization, id: \"{org}\"}\n";
    let t = TestApp::builder().with_routes(routes).build();
    t.seed_acme().await;
    let ask = |uri: &str| {
        Request::builder()
            .uri("/v1/forward_auth")
            .header("x-original-method", "GET")
            .header("x-original-uri", uri)
            .header("x-user-id", "olive")
            .body(Body::empty())
            .unwrap()
    };
    t.send(ask("/orgs/acme/settings")).await.expect(200);
    let resp = t.send(ask("/orgs/ac!me/settings")).await.expect(403);
    let detail = resp.headers["x-authz-detail"].to_str().unwrap();
    assert!(detail.contains("not a valid id"), "{detail}");
}
