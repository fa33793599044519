//! `GET /v1/forward_auth` in-process: the routes of the notes example map a
//! proxied request to a decision; 200, 401 and 403 only, with the reasons
//! in headers; keys, hot reload of the routes file and metrics.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use tenantgate::model::Scope;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(15);

fn notes_routes() -> String {
    std::fs::read_to_string(repo_dir("examples/notes/routes.yaml")).unwrap()
}

async fn notes_app() -> TestApp {
    let t = TestApp::builder()
        .with_host_resources()
        .with_routes(&notes_routes())
        .build();
    t.seed_acme().await;
    t
}

/// A forward-auth call as nginx makes it; `extra` adds or overrides headers.
async fn forward(
    t: &TestApp,
    method: &str,
    uri: &str,
    user: Option<&str>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder()
        .method("GET")
        .uri("/v1/forward_auth")
        .header("x-original-method", method)
        .header("x-original-uri", uri);
    if let Some(user) = user {
        req = req.header("x-user-id", user);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    t.send(req.body(Body::empty()).unwrap()).await
}

fn header<'a>(resp: &'a Resp, name: &str) -> &'a str {
    resp.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no `{name}` header in {:?}", resp.headers))
}

/// Method, URI, user, extra headers, expected detail.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Vec<(&'a str, &'a str)>,
    &'a str,
);

const NOTE: &str = "/orgs/acme/workspaces/ws1/notes/n1";

#[tokio::test]
async fn the_policies_decide_and_the_headers_say_why() {
    let t = notes_app().await;
    let revision = t.get("/v1/policies", None).await.expect(200).body["revision"].clone();

    let allowed = forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);
    assert_eq!(header(&allowed, "x-authz-decision"), "Allow");
    assert_eq!(
        header(&allowed, "x-authz-reasons"),
        "workspace-members-read-documents"
    );
    assert_eq!(header(&allowed, "x-authz-policy-revision"), revision);
    assert_eq!(header(&allowed, "x-authz-action"), "document.read");
    assert_eq!(header(&allowed, "x-authz-resource"), "Document::\"n1\"");
    assert_eq!(allowed.body["decision"], "Allow");

    // nick is in no workspace; mia may read but not edit; wanda administers ws1.
    let denied = forward(&t, "GET", NOTE, Some("nick"), &[])
        .await
        .expect_error(403, "forbidden");
    assert_eq!(header(&denied, "x-authz-decision"), "Deny");
    assert_eq!(header(&denied, "x-authz-reasons"), "");
    assert!(denied.body["detail"]
        .as_str()
        .unwrap()
        .contains("`nick` may not `document.read`"));
    forward(&t, "PUT", NOTE, Some("mia"), &[])
        .await
        .expect_error(403, "forbidden");
    let edit = forward(&t, "PUT", NOTE, Some("wanda"), &[])
        .await
        .expect(200);
    assert_eq!(
        header(&edit, "x-authz-reasons"),
        "workspace-admins-edit-documents"
    );
    // Organization admins reach the note through Workspace in Organization.
    forward(&t, "PUT", NOTE, Some("adam"), &[])
        .await
        .expect(200);
    // Sidecar resources: billing of the org, query strings ignored.
    forward(&t, "GET", "/orgs/acme/billing?month=3", Some("carl"), &[])
        .await
        .expect(200);
    forward(&t, "GET", "/orgs/acme/billing", Some("mia"), &[])
        .await
        .expect_error(403, "forbidden");
    // Percent-decoded segments become the ids.
    let encoded = forward(
        &t,
        "HEAD",
        "/orgs/acme/workspaces/ws1/notes/n%2D1",
        Some("mia"),
        &[],
    )
    .await
    .expect(200);
    assert_eq!(header(&encoded, "x-authz-resource"), "Document::\"n-1\"");
}

#[tokio::test]
async fn traefik_headers_work_like_nginx_ones() {
    let t = notes_app().await;
    let call = |method: &'static str, user: &'static str| {
        let t = &t;
        async move {
            let req = Request::builder()
                .uri("/v1/forward_auth")
                .header("x-forwarded-method", method)
                .header("x-forwarded-uri", NOTE)
                .header("x-forwarded-host", "notes.example")
                .header("x-user-id", user)
                .body(Body::empty())
                .unwrap();
            t.send(req).await
        }
    };
    call("GET", "mia").await.expect(200);
    call("PUT", "mia").await.expect_error(403, "forbidden");
}

#[tokio::test]
async fn refusals_are_401_or_403_with_a_detail_never_an_error_status() {
    let t = notes_app().await;
    let missing = forward(&t, "GET", NOTE, None, &[])
        .await
        .expect_error(401, "principal_required");
    assert_eq!(header(&missing, "x-authz-decision"), "Deny");
    assert!(header(&missing, "x-authz-detail").contains("X-User-Id"));
    forward(&t, "GET", NOTE, Some(""), &[])
        .await
        .expect_error(401, "principal_required");

    let cases: [Case; 9] = [
        (
            "DELETE",
            NOTE,
            Some("olive"),
            vec![],
            "no route matches `DELETE /orgs/acme/workspaces/ws1/notes/n1`",
        ),
        (
            "GET",
            "/orgs/acme/workspaces/ws1/notes/../../ws2/notes/n1",
            Some("mia"),
            vec![],
            "`.` and `..`",
        ),
        (
            "GET",
            "/orgs/acme/workspaces/ws1//notes/n1",
            Some("mia"),
            vec![],
            "empty segment",
        ),
        (
            "GET",
            "/orgs/acme/workspaces/ws1/notes/a%2Fb",
            Some("mia"),
            vec![],
            "encoded slash",
        ),
        (
            "GET",
            "https://evil/orgs/acme/billing",
            Some("carl"),
            vec![],
            "starting with `/`",
        ),
        ("GET", NOTE, Some("bad user"), vec![], "`X-User-Id` must be"),
        (
            "GET",
            NOTE,
            Some("mia"),
            vec![("x-forwarded-uri", "/orgs/acme/billing")],
            "disagree",
        ),
        (
            "GET",
            NOTE,
            Some("mia"),
            vec![("x-original-uri", "/orgs/acme/billing")],
            "more than once",
        ),
        (
            "GET",
            NOTE,
            Some("mia"),
            vec![("x-forwarded-method", "PUT")],
            "disagree",
        ),
    ];
    for (method, uri, user, extra, expected) in cases {
        let resp = forward(&t, method, uri, user, &extra)
            .await
            .expect_error(403, "forbidden");
        let detail = header(&resp, "x-authz-detail");
        assert!(detail.contains(expected), "{method} {uri}: {detail}");
        assert_eq!(resp.body["detail"], detail);
    }
    // No forwarded method or URI at all: a misconfigured proxy is denied.
    let bare = Request::builder()
        .uri("/v1/forward_auth")
        .header("x-user-id", "mia")
        .body(Body::empty())
        .unwrap();
    let resp = t.send(bare).await.expect_error(403, "forbidden");
    assert!(header(&resp, "x-authz-detail").contains("X-Original-Method"));
    // Agreeing duplicates are fine, and a client's junk `X-Actor-Id`
    // (meant for other calls) cannot fail a forward-auth call.
    forward(
        &t,
        "GET",
        NOTE,
        Some("mia"),
        &[("x-forwarded-uri", NOTE), ("x-actor-id", "not an id!")],
    )
    .await
    .expect(200);
    // Non-ASCII in the forwarded path is refused, and named in ASCII: asked
    // as a member of ws1, who would be allowed a note of that name.
    let resp = forward(
        &t,
        "GET",
        "/orgs/acme/workspaces/ws1/notes/%C3%A9t%C3%A9",
        Some("mia"),
        &[],
    )
    .await
    .expect_error(403, "forbidden");
    assert!(header(&resp, "x-authz-detail").contains("U+00E9"));
}

#[tokio::test]
async fn a_route_naming_an_undeclared_action_is_refused_at_reload() {
    let t = notes_app().await;
    let bad = "routes:\n  - {method: GET, path: \"/x/{id}\", action: nothing.here, resource: {type: Organization, id: \"{id}\"}}\n";
    std::fs::write(t.app.routes.path(), bad).unwrap();
    let err = t.app.routes.reload().unwrap_err().to_string();
    assert!(
        err.contains("route 1") && err.contains("nothing.here"),
        "{err}"
    );
    let info = t.get("/v1/routes", None).await.expect(200).body;
    assert_eq!(info["last_reload"]["ok"], false);
    assert!(info["last_reload"]["error"]
        .as_str()
        .unwrap()
        .contains("nothing.here"));
    // The last good file keeps serving.
    forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);
}

#[tokio::test]
async fn a_route_with_a_path_variable_bound_to_nothing_is_refused_at_reload() {
    let t = notes_app().await;
    // `{org}` reaches no entity: the note would be judged whatever org the
    // path names.
    let unbound = "routes:\n  - {method: GET, path: \"/orgs/{org}/workspaces/{ws}/notes/{note}\", action: document.read, resource: {type: Document, id: \"{note}\", parents: [{type: Workspace, id: \"{ws}\"}], attrs: {workspace: {type: Workspace, id: \"{ws}\"}}}}\n";
    std::fs::write(t.app.routes.path(), unbound).unwrap();
    let err = t.app.routes.reload().unwrap_err().to_string();
    assert!(
        err.contains("`{org}`") && err.contains("bound to nothing"),
        "{err}"
    );
    let info = t.get("/v1/routes", None).await.expect(200).body;
    assert_eq!(info["last_reload"]["ok"], false);
    // The last good file keeps serving, and it binds the org.
    forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);
    forward(
        &t,
        "GET",
        "/orgs/globex/workspaces/ws1/notes/n1",
        Some("mia"),
        &[],
    )
    .await
    .expect_error(403, "forbidden");
}

const ADMIN_ROUTES: &str = r#"
routes:
  - {method: GET, path: "/orgs/{org}/admin", action: org.update, resource: {type: Organization, id: "{org}"}}
  - {method: DELETE, path: "/orgs/{org}/posts", action: org.update, resource: {type: Organization, id: "{org}"}, allow_method_override: true}
  - {method: "*", path: "/orgs/{org}/{_page}", action: org.read, resource: {type: Organization, id: "{org}"}}
"#;

#[tokio::test]
async fn paths_a_backend_could_read_as_a_protected_page_are_denied() {
    let t = TestApp::builder().with_routes(ADMIN_ROUTES).build();
    t.seed_acme().await;
    forward(&t, "GET", "/orgs/acme/admin", Some("mia"), &[])
        .await
        .expect_error(403, "forbidden");
    forward(&t, "GET", "/orgs/acme/admin", Some("olive"), &[])
        .await
        .expect(200);
    forward(&t, "GET", "/orgs/acme/public", Some("mia"), &[])
        .await
        .expect(200);
    for uri in [
        "/orgs/acme/admin;x=1",
        "/orgs/acme/admin%3B",
        "/orgs/acme/public#/../admin",
        "/orgs/acme/%2561dmin",
        "/orgs/acme/ADMIN",
        "/orgs/acme/admin.",
        "/orgs/acme/admin%20",
        "/orgs/acme/%E2%80%8Badmin",
    ] {
        let resp = forward(&t, "GET", uri, Some("mia"), &[])
            .await
            .expect_error(403, "forbidden");
        assert!(
            header(&resp, "x-authz-detail").contains("unusable forwarded path"),
            "{uri}: {:?}",
            resp.headers
        );
    }
}

#[tokio::test]
async fn a_method_override_header_is_denied_unless_the_route_allows_it() {
    let t = TestApp::builder().with_routes(ADMIN_ROUTES).build();
    t.seed_acme().await;
    for name in [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ] {
        let resp = forward(
            &t,
            "POST",
            "/orgs/acme/public",
            Some("mia"),
            &[(name, "DELETE")],
        )
        .await
        .expect_error(403, "forbidden");
        assert!(header(&resp, "x-authz-detail").contains("method override"));
    }
    // The allowing route judges the overriding method: mia may not, olive may.
    forward(
        &t,
        "POST",
        "/orgs/acme/posts",
        Some("mia"),
        &[("x-http-method-override", "DELETE")],
    )
    .await
    .expect_error(403, "forbidden");
    forward(
        &t,
        "POST",
        "/orgs/acme/posts",
        Some("olive"),
        &[("x-http-method-override", "DELETE")],
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_shipped_routes_bind_the_org_of_the_path() {
    let t = notes_app().await;
    t.create_org("globex", "gina").await;
    forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);
    forward(
        &t,
        "GET",
        "/orgs/globex/workspaces/ws1/notes/n1",
        Some("mia"),
        &[],
    )
    .await
    .expect_error(403, "forbidden");
    forward(
        &t,
        "PUT",
        "/orgs/globex/workspaces/ws1/notes/n1",
        Some("wanda"),
        &[],
    )
    .await
    .expect_error(403, "forbidden");
}

#[tokio::test]
async fn the_user_header_is_a_setting() {
    let t = TestApp::builder()
        .with_host_resources()
        .with_routes(&notes_routes())
        .with_settings(|s| s.forward_auth_user_header = "X-Auth-Request-User".into())
        .build();
    t.seed_acme().await;
    forward(&t, "GET", NOTE, Some("mia"), &[])
        .await
        .expect_error(401, "principal_required");
    forward(&t, "GET", NOTE, None, &[("x-auth-request-user", "mia")])
        .await
        .expect(200);
}

#[tokio::test]
async fn forward_auth_needs_a_check_key_as_bearer_or_basic_password() {
    use base64::Engine as _;
    let t = notes_app().await;
    let check = tenantgate::keys::create(&t.app.store, Scope::Check, "proxy")
        .unwrap()
        .secret;
    t.app.keys.refresh(&t.app.store).unwrap();
    // A proxy without a key is misconfigured: a 500, never a 401 the proxy
    // would turn into a sign-in prompt.
    forward(&t, "GET", NOTE, Some("mia"), &[])
        .await
        .expect_error(500, "internal");
    let bearer = format!("Bearer {check}");
    forward(&t, "GET", NOTE, Some("mia"), &[("authorization", &bearer)])
        .await
        .expect(200);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("tenantgate:{check}"))
    );
    forward(&t, "GET", NOTE, Some("mia"), &[("authorization", &basic)])
        .await
        .expect(200);
    forward(
        &t,
        "GET",
        NOTE,
        Some("mia"),
        &[("authorization", "Bearer tgk_nope")],
    )
    .await
    .expect_error(500, "internal");
    // The key may come in a header the proxy's configuration sets.
    forward(
        &t,
        "GET",
        NOTE,
        Some("mia"),
        &[("x-tenantgate-key", &check)],
    )
    .await
    .expect(200);
    forward(&t, "GET", NOTE, None, &[("x-tenantgate-key", &check)])
        .await
        .expect_error(401, "principal_required");
    forward(
        &t,
        "GET",
        NOTE,
        Some("mia"),
        &[("x-tenantgate-key", "tgk_nope")],
    )
    .await
    .expect_error(500, "internal");
    // The routes status is policy administration: admin only.
    t.request(
        axum::http::Method::GET,
        "/v1/routes",
        None,
        Some(&check),
        None,
    )
    .await
    .expect_error(403, "insufficient_scope");
}

#[tokio::test]
async fn the_routes_file_hot_reloads_and_a_bad_one_is_rejected_whole() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    let _watcher = tenantgate::watch::watch_all(
        vec![t.app.authz.clone(), t.app.routes.clone()],
        Duration::from_millis(100),
    )
    .unwrap();
    let info = t.get("/v1/routes", None).await.expect(200);
    assert_eq!(info.body["present"], false);
    let resp = forward(&t, "GET", NOTE, Some("mia"), &[])
        .await
        .expect_error(403, "forbidden");
    assert!(header(&resp, "x-authz-detail").contains("no routes file"));

    let file = t.policies_dir().join("routes.yaml");
    std::fs::write(&file, notes_routes()).unwrap();
    assert!(
        eventually(WAIT, || async {
            forward(&t, "GET", NOTE, Some("mia"), &[]).await.status == 200
        })
        .await,
        "the new routes file never took effect"
    );
    let info = t.get("/v1/routes", None).await.expect(200).body;
    assert_eq!(info["present"], true);
    assert_eq!(info["routes"][0]["action"], "document.read");
    let good = info["revision"].clone();

    // A broken edit: rejected whole, reported, the last good routes serve.
    std::fs::write(&file, notes_routes().replace("\"{note}\"", "\"{nope}\"")).unwrap();
    assert!(
        eventually(WAIT, || async {
            t.get("/v1/routes", None).await.body["last_reload"]["ok"] == json!(false)
        })
        .await,
        "the broken routes file was not reported"
    );
    let info = t.get("/v1/routes", None).await.expect(200).body;
    assert_eq!(info["revision"], good);
    let error = info["last_reload"]["error"].as_str().unwrap();
    assert!(
        error.contains("route 1") && error.contains("{nope}"),
        "{error}"
    );
    forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);

    // Removing the route for reads takes effect.
    std::fs::write(&file, "routes: []\n").unwrap();
    assert!(
        eventually(WAIT, || async {
            forward(&t, "GET", NOTE, Some("mia"), &[]).await.status == 403
        })
        .await
    );
    assert_eq!(
        t.get("/v1/routes", None).await.body["last_reload"]["ok"],
        true
    );
}

#[tokio::test]
async fn forward_auth_answers_are_counted() {
    let t = notes_app().await;
    forward(&t, "GET", NOTE, Some("mia"), &[]).await.expect(200);
    forward(&t, "GET", NOTE, Some("nick"), &[])
        .await
        .expect(403);
    forward(&t, "GET", "/nowhere", Some("nick"), &[])
        .await
        .expect(403);
    forward(&t, "GET", NOTE, None, &[]).await.expect(401);
    let text = t.get("/metrics", None).await.expect(200).body;
    let text = text.as_str().unwrap();
    for outcome in ["allow", "deny", "no_route", "no_principal"] {
        let line = format!("tenantgate_forward_auth_total{{outcome=\"{outcome}\"}}");
        assert!(text.contains(&line), "{line} missing in\n{text}");
    }
    assert!(
        text.contains("tenantgate_decisions_total{decision=\"Allow\",action=\"document.read\"}"),
        "{text}"
    );
}

#[test]
fn an_invalid_routes_file_stops_the_binary_at_start() {
    let dir = workdir();
    std::fs::write(
        dir.path().join("policies/routes.yaml"),
        "routes:\n  - {method: GET, path: \"/a/{id}\", action: org.read, resource: {type: Organization, id: \"{org}\"}}\n",
    )
    .unwrap();
    let out = tenantgate_cli(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid forward-auth routes") && stderr.contains("`{org}`"),
        "{stderr}"
    );
}
