//! Bad input and callers: problem+json with stable codes, never a panic or
//! a 500; API keys and scopes.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use tenantgate::model::Scope;

use crate::support::*;

fn raw(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.body(body.into()).unwrap()
}

#[tokio::test]
async fn malformed_bodies_get_the_right_codes() {
    let t = TestApp::builder()
        .with_settings(|s| s.max_body_bytes = 4096)
        .build();
    t.seed_acme().await;
    let json_ct = Some("application/json");
    t.send(raw("POST", "/v1/is_authorized", json_ct, "{not json"))
        .await
        .expect_error(400, "invalid_request");
    t.send(raw(
        "POST",
        "/v1/orgs",
        json_ct,
        r#"{"name": "x", "owner": {"id": "a", "email": "a@b.co"}, "extra": 1}"#,
    ))
    .await
    .expect_error(400, "invalid_request");
    t.send(raw("POST", "/v1/orgs", json_ct, r#"{"name": 5}"#))
        .await
        .expect_error(400, "invalid_request");
    t.send(raw("POST", "/v1/orgs", None, r#"{"name": "x"}"#))
        .await
        .expect_error(415, "unsupported_media_type");
    let big = format!(r#"{{"policies": "{}"}}"#, "a".repeat(10_000));
    t.send(raw("POST", "/v1/policies/validate", json_ct, big))
        .await
        .expect_error(413, "payload_too_large");
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    t.send(raw(
        "POST",
        "/v1/is_authorized",
        json_ct,
        format!(r#"{{"principal": {deep}}}"#),
    ))
    .await
    .expect_error(400, "invalid_request");
    t.send(raw(
        "POST",
        "/v1/is_authorized",
        json_ct,
        vec![0xff, 0xfe, b'{'],
    ))
    .await
    .expect_error(400, "invalid_request");
    t.get("/v1/nothing/here", None)
        .await
        .expect_error(404, "not_found");
    t.send(raw("PUT", "/v1/orgs", json_ct, "{}"))
        .await
        .expect_error(405, "method_not_allowed");
    // Ids with characters outside the contract.
    t.request(
        axum::http::Method::GET,
        "/v1/orgs/acme",
        Some("bad actor"),
        None,
        None,
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs",
        None,
        json!({"id": "a/b", "name": "x", "owner": {"id": "a", "email": "a@b.co"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs",
        None,
        json!({"id": "x".repeat(129), "name": "x", "owner": {"id": "a", "email": "a@b.co"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs",
        None,
        json!({"name": "bad\u{7}name", "owner": {"id": "a", "email": "a@b.co"}}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let t = TestApp::new();
    let resp = t.get("/healthz", None).await.expect(200);
    assert!(!resp.headers["x-request-id"].is_empty());
    let mut req = raw("GET", "/healthz", None, Body::empty());
    req.headers_mut()
        .insert("x-request-id", "abc-123".parse().unwrap());
    let resp = t.send(req).await;
    assert_eq!(resp.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn keys_and_scopes_gate_every_call() {
    let t = TestApp::new();
    t.seed_acme().await; // while no key exists: development mode
    let check = tenantgate::keys::create(&t.app.store, Scope::Check, "check")
        .unwrap()
        .secret;
    let manage = tenantgate::keys::create(&t.app.store, Scope::Manage, "manage")
        .unwrap()
        .secret;
    let admin = tenantgate::keys::create(&t.app.store, Scope::Admin, "admin")
        .unwrap()
        .secret;
    t.app.keys.refresh(&t.app.store).unwrap();
    assert!(!t.app.keyless_mode());

    use axum::http::Method;
    let decision = json!({"principal": "User::\"olive\"", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""});
    let call = |method: Method,
                path: &'static str,
                actor: Option<&'static str>,
                key: Option<String>,
                body: Option<serde_json::Value>| {
        let t = &t;
        async move { t.request(method, path, actor, key.as_deref(), body).await }
    };
    call(
        Method::POST,
        "/v1/is_authorized",
        None,
        None,
        Some(decision.clone()),
    )
    .await
    .expect_error(401, "unauthenticated");
    call(
        Method::POST,
        "/v1/is_authorized",
        None,
        Some("tgk_wrong".into()),
        Some(decision.clone()),
    )
    .await
    .expect_error(401, "unauthenticated");
    for key in [&check, &manage, &admin] {
        call(
            Method::POST,
            "/v1/is_authorized",
            None,
            Some(key.clone()),
            Some(decision.clone()),
        )
        .await
        .expect(200);
    }
    // Management needs manage, and a manage key needs an actor.
    call(
        Method::GET,
        "/v1/orgs/acme",
        Some("olive"),
        Some(check.clone()),
        None,
    )
    .await
    .expect_error(403, "insufficient_scope");
    call(
        Method::GET,
        "/v1/orgs/acme",
        None,
        Some(manage.clone()),
        None,
    )
    .await
    .expect_error(400, "actor_required");
    call(
        Method::GET,
        "/v1/orgs/acme",
        Some("olive"),
        Some(manage.clone()),
        None,
    )
    .await
    .expect(200);
    call(
        Method::GET,
        "/v1/orgs/acme",
        Some("stranger"),
        Some(manage.clone()),
        None,
    )
    .await
    .expect_error(403, "forbidden");
    // An admin key without an actor is a system call.
    call(
        Method::GET,
        "/v1/orgs/acme",
        None,
        Some(admin.clone()),
        None,
    )
    .await
    .expect(200);
    // A user's organizations: the user themself, or an admin key.
    call(
        Method::GET,
        "/v1/users/mia/orgs",
        Some("mia"),
        Some(manage.clone()),
        None,
    )
    .await
    .expect(200);
    call(
        Method::GET,
        "/v1/users/mia/orgs",
        Some("olive"),
        Some(manage.clone()),
        None,
    )
    .await
    .expect_error(403, "forbidden");
    call(
        Method::GET,
        "/v1/users/mia/orgs",
        None,
        Some(admin.clone()),
        None,
    )
    .await
    .expect(200);
    // Policy administration is admin only.
    call(
        Method::GET,
        "/v1/policies",
        None,
        Some(manage.clone()),
        None,
    )
    .await
    .expect_error(403, "insufficient_scope");
    call(Method::GET, "/v1/policies", None, Some(admin.clone()), None)
        .await
        .expect(200);
    // Operations endpoints need no key.
    for path in ["/healthz", "/readyz", "/metrics"] {
        call(Method::GET, path, None, None, None).await.expect(200);
    }
    // A revoked key stops working once the ring refreshes.
    let id = t.app.store.read(|db| db.list_api_keys()).unwrap()[0]
        .id
        .clone();
    t.app
        .store
        .write_untracked(|db| db.revoke_api_key(&id))
        .unwrap();
    t.app.keys.refresh(&t.app.store).unwrap();
    call(
        Method::POST,
        "/v1/is_authorized",
        None,
        Some(check),
        Some(decision),
    )
    .await
    .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn a_non_loopback_listener_never_runs_keyless() {
    let t = TestApp::builder()
        .with_settings(|s| s.listen = "0.0.0.0:0".parse().unwrap())
        .build();
    assert!(!t.app.keyless_mode());
    t.get("/v1/orgs/acme", None)
        .await
        .expect_error(401, "unauthenticated");
}

#[tokio::test]
async fn readiness_and_metrics_describe_the_state() {
    let t = TestApp::new();
    t.seed_acme().await;
    let ready = t.get("/readyz", None).await.expect(200);
    assert_eq!(ready.body["status"], "ready");
    assert!(ready.body["data_revision"].as_u64().unwrap() >= 10);
    let metrics = t.get("/metrics", None).await.expect(200);
    let text = metrics.body.as_str().unwrap();
    assert!(text.contains("tenantgate_organizations 1"), "{text}");
    assert!(text.contains("tenantgate_users_with_roles 6"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_served_routes() {
    let t = TestApp::new();
    let doc = t.get("/v1/openapi.json", None).await.expect(200).body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 25, "{}", paths.len());
    for required in [
        "/v1/is_authorized",
        "/v1/orgs/{org}/invites",
        "/v1/invites/accept",
        "/healthz",
        "/v1/openapi.json",
    ] {
        assert!(paths.contains_key(required), "{required} is not documented");
    }
    // Every documented operation is served: none answers "no such endpoint"
    // or "method not allowed".
    for (path, ops) in paths {
        let concrete = path
            .replace("{org}", "o")
            .replace("{ws}", "w")
            .replace("{user}", "u")
            .replace("{id}", "i");
        for method in ops.as_object().unwrap().keys() {
            let method: axum::http::Method = method.to_uppercase().parse().unwrap();
            let resp = t
                .request(method.clone(), &concrete, Some("u"), None, Some(json!({})))
                .await;
            assert!(
                resp.code() != "method_not_allowed" && resp.body["detail"] != "no such endpoint",
                "{method} {path} is documented but not served: {:#}",
                resp.body
            );
        }
    }
}
