//! Input normalization and reserved names: emails compare under a rule that
//! never makes two mailboxes equal, `system` is never a user id, an actor
//! lists only its own organizations, invite mail files are private, and
//! names cannot hide characters.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use crate::support::*;

const KELVIN_KATE: &str = "\u{212A}ate@example.com";

async fn invite_token(t: &TestApp, email: &str) -> String {
    let created = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            json!({"invites": [{"email": email, "role": "member"}], "send_email": false}),
        )
        .await
        .expect(201);
    created.body["invites"][0]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn accept(t: &TestApp, token: &str, user: &str, email: &str) -> Resp {
    t.post(
        "/v1/invites/accept",
        None,
        json!({"token": token, "user": {"id": user, "email": email}}),
    )
    .await
}

#[tokio::test]
async fn a_kelvin_sign_address_never_accepts_an_invite_for_k() {
    let t = TestApp::new();
    t.seed_acme().await;
    let token = invite_token(&t, "kate@example.com").await;
    let refused = accept(&t, &token, "kate", KELVIN_KATE).await;
    assert!(
        (refused.status == 403 && refused.code() == "invite_email_mismatch")
            || (refused.status == 400 && refused.code() == "invalid_request"),
        "the Kelvin sign is not a K: {:#}",
        refused.body
    );
    // Nor can it be invited, nor a member be added with it.
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        json!({"invites": [{"email": KELVIN_KATE, "role": "member"}], "send_email": false}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/members/kate2",
        None,
        json!({"email": KELVIN_KATE, "role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    // The invite is still usable, and ASCII K and k are the same letter.
    let joined = accept(&t, &token, "kate", " KATE@Example.COM ")
        .await
        .expect(200);
    assert_eq!(joined.body["user_id"], "kate");
    let token = invite_token(&t, "Karl@Example.com").await;
    accept(&t, &token, "karl", "kARL@example.com")
        .await
        .expect(200);
}

#[tokio::test]
async fn system_is_refused_as_the_actor_header() {
    let t = TestApp::new();
    t.seed_acme().await;
    for (method, path) in [
        ("GET", "/v1/orgs/acme"),
        ("GET", "/v1/users/system/orgs"),
        ("DELETE", "/v1/orgs/acme/members/mia"),
    ] {
        let resp = t
            .request(method.parse().unwrap(), path, Some("system"), None, None)
            .await
            .expect_error(400, "invalid_request");
        assert!(
            resp.body["detail"].as_str().unwrap().contains("reserved"),
            "{:#}",
            resp.body
        );
    }
    // Nothing happened on its behalf, and `System` is just another id.
    assert!(t.allowed("mia", "org.read", org("acme"), json!({})).await);
    t.get("/v1/orgs/acme", Some("System"))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn system_is_refused_as_a_user_id_in_a_body_or_path() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.post(
        "/v1/orgs",
        None,
        json!({"id": "sys", "name": "Sys", "owner": {"id": "system", "email": "s@example.com"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/members/system",
        None,
        json!({"email": "s@example.com", "role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/workspaces/ws1/members/system",
        None,
        json!({"role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post("/v1/orgs/acme/ownership", None, json!({"to": "system"}))
        .await
        .expect_error(400, "invalid_request");
    let token = invite_token(&t, "s@example.com").await;
    let resp = accept(&t, &token, "system", "s@example.com")
        .await
        .expect_error(400, "invalid_request");
    assert!(resp.body["detail"].as_str().unwrap().contains("reserved"));
}

#[tokio::test]
async fn forward_auth_refuses_system_as_the_user() {
    let routes = std::fs::read_to_string(repo_dir("examples/notes/routes.yaml")).unwrap();
    let t = TestApp::builder()
        .with_host_resources()
        .with_routes(&routes)
        .build();
    t.seed_acme().await;
    let req = Request::builder()
        .uri("/v1/forward_auth")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/orgs/acme/workspaces/ws1/notes/n1")
        .header("x-user-id", "system")
        .body(Body::empty())
        .unwrap();
    let resp = t.send(req).await.expect_error(403, "forbidden");
    assert_eq!(resp.headers["x-authz-decision"], "Deny");
    assert!(resp.headers["x-authz-detail"]
        .to_str()
        .unwrap()
        .contains("reserved"));
}

#[tokio::test]
async fn an_actor_lists_only_its_own_orgs_even_with_an_admin_key() {
    // Development mode: no keys, so every call has the admin scope.
    let t = TestApp::new();
    t.seed_acme().await;
    t.create_org("beta", "bob").await;
    t.get("/v1/users/olive/orgs", Some("bob"))
        .await
        .expect_error(403, "forbidden");
    let own = t
        .get("/v1/users/olive/orgs", Some("olive"))
        .await
        .expect(200);
    assert_eq!(own.body["items"][0]["org"]["id"], "acme");
    // A system call (no actor) may list anyone's.
    let system = t.get("/v1/users/bob/orgs", None).await.expect(200);
    assert_eq!(system.body["items"][0]["org"]["id"], "beta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_mail_files_are_readable_by_the_sidecar_only() {
    // No SMTP URL: messages are `.eml` files in `<data-dir>/mail/`.
    let t = TestApp::builder().with_background().build();
    t.seed_acme().await;
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        json!({"invites": [{"email": "eve@example.com", "role": "member"}]}),
    )
    .await
    .expect(201);
    let dir = t.app.settings.mail_dir();
    let eml = || {
        std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"))
        })
    };
    assert!(
        eventually(Duration::from_secs(20), || async { eml().is_some() }).await,
        "no .eml file in {}",
        dir.display()
    );
    let file = eml().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
    assert_eq!(mode(&file) & 0o077, 0, "{:o}", mode(&file));
    assert_eq!(mode(&dir) & 0o077, 0, "{:o}", mode(&dir));
}

const HIDDEN: [char; 14] = [
    '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}',
    '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{00AD}', '\u{FE0F}',
];

#[tokio::test]
async fn names_with_bidi_or_invisible_characters_are_refused() {
    let t = TestApp::new();
    t.seed_acme().await;
    for c in HIDDEN {
        let name = format!("Acme{c}");
        t.post(
            "/v1/orgs",
            None,
            json!({"id": "acme2", "name": name, "owner": {"id": "olive", "email": "olive@example.com"}}),
        )
        .await
        .expect_error(400, "invalid_request");
        t.patch("/v1/orgs/acme", None, json!({"name": name}))
            .await
            .expect_error(400, "invalid_request");
        t.post(
            "/v1/orgs/acme/workspaces",
            None,
            json!({"id": "ws9", "name": format!("{c}Docs")}),
        )
        .await
        .expect_error(400, "invalid_request");
        t.post(
            "/v1/orgs/acme/roles",
            None,
            json!({"key": "boss", "name": format!("Owner{c}"), "permissions": []}),
        )
        .await
        .expect_error(400, "invalid_request");
    }
    // Visible non-ASCII names are fine.
    t.post(
        "/v1/orgs/acme/workspaces",
        None,
        json!({"id": "ws9", "name": "Équipe ⚙ 東京"}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn a_role_cannot_pose_as_a_built_in_one() {
    let t = TestApp::new();
    t.seed_acme().await;
    for name in ["Owner", "ADMIN", "Ｏｗｎｅｒ", "ａｄｍｉｎ", "Ｍember"] {
        t.post(
            "/v1/orgs/acme/roles",
            None,
            json!({"key": "boss", "name": name, "permissions": []}),
        )
        .await
        .expect_error(400, "invalid_request");
    }
    t.post(
        "/v1/orgs/acme/roles",
        None,
        json!({"key": "boss", "name": "Boss", "permissions": []}),
    )
    .await
    .expect(201);
    t.patch(
        "/v1/orgs/acme/roles/boss",
        None,
        json!({"name": "ＡＣＣＯＵＮＴＩＮＧ"}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn the_openapi_document_states_the_rules() {
    let t = TestApp::new();
    let doc = t.get("/v1/openapi.json", None).await.expect(200).body;
    let params = doc["paths"]["/v1/orgs/{org}"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let actor = params.iter().find(|p| p["name"] == "X-Actor-Id").unwrap();
    assert_eq!(actor["schema"]["not"], json!({"const": "system"}));
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Invitee"]["properties"]["id"]["not"],
        json!({"const": "system"})
    );
    let email = schemas["NewInvite"]["properties"]["email"]["description"]
        .as_str()
        .unwrap();
    assert!(email.contains("NFKC") && email.contains("ASCII"), "{email}");
    let name = &schemas["CreateOrg"]["properties"]["name"];
    assert!(name["pattern"].as_str().unwrap().contains("\\u200B"));
    assert!(name["description"].as_str().unwrap().contains("bidi"));
}
