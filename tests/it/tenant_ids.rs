//! Tenant identity: an id that once named an organization or a workspace
//! never names another tenant's object, and emails belong to memberships,
//! so one tenant's writes never change what another tenant sees.
//! olive owns `acme`; mallory acts in organizations of her own.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};

use crate::smtp::SmtpServer;
use crate::support::*;

const MAIL_WAIT: Duration = Duration::from_secs(20);

/// A plain notes-like route: a document inside a workspace.
const DOC_ROUTES: &str = r#"
routes:
  - method: GET
    path: "/ws/{ws}/docs/{doc}"
    action: document.read
    resource:
      type: Document
      id: "{doc}"
      parents: [{type: Workspace, id: "{ws}"}]
      attrs:
        workspace: {type: Workspace, id: "{ws}"}
"#;

/// Creates `id` as `actor` (whose email is `email`): the raw answer.
async fn create_org_as(t: &TestApp, actor: Option<&str>, id: &str, owner: Value) -> Resp {
    t.post(
        "/v1/orgs",
        actor,
        json!({"id": id, "name": id, "owner": owner}),
    )
    .await
}

/// Every action of the audit page (newest first).
fn actions(resp: &Resp) -> Vec<String> {
    resp.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// The email `org` lists for `user`.
async fn listed_email(t: &TestApp, org: &str, actor: &str, user: &str) -> String {
    let page = t
        .get(&format!("/v1/orgs/{org}/members?limit=200"), Some(actor))
        .await
        .expect(200);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == user)
        .unwrap_or_else(|| panic!("{user} is not listed in {org}: {:#}", page.body))["email"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn invite_body(email: &str) -> Value {
    json!({"invites": [{"email": email, "role": "member"}], "send_email": false})
}

#[tokio::test]
async fn a_deleted_org_id_is_never_reused_and_its_audit_stays_with_system_calls() {
    let t = TestApp::builder()
        .with_settings(|s| s.invite_rate_per_hour = 2)
        .build();
    t.create_org("stale", "olive").await;
    t.add_member("stale", "sam", "member").await;
    // The deleted tenant spends its whole invite budget.
    for email in ["i1@example.com", "i2@example.com"] {
        t.post("/v1/orgs/stale/invites", Some("olive"), invite_body(email))
            .await
            .expect(201);
    }
    t.delete("/v1/orgs/stale", Some("olive")).await.expect(204);

    // Neither mallory nor a system call gets the id back.
    let taken = create_org_as(
        &t,
        Some("mallory"),
        "stale",
        json!({"email": "mallory@evil.test"}),
    )
    .await
    .expect_error(409, "already_exists");
    assert!(
        taken.body["detail"].as_str().unwrap().contains("deleted"),
        "{:#}",
        taken.body
    );
    create_org_as(
        &t,
        None,
        "stale",
        json!({"id": "olive", "email": "olive@example.com"}),
    )
    .await
    .expect_error(409, "already_exists");

    // An actor gets for the deleted org what they get for one that never was.
    let gone = t
        .get("/v1/orgs/stale/audit", Some("mallory"))
        .await
        .expect_error(404, "not_found");
    let never = t
        .get("/v1/orgs/never-was/audit", Some("mallory"))
        .await
        .expect_error(404, "not_found");
    assert_eq!(gone.status, never.status);
    // The deleted org's own owner too: the log is history, kept for the operator.
    t.get("/v1/orgs/stale/audit", Some("olive"))
        .await
        .expect_error(404, "not_found");
    let history = t.get("/v1/orgs/stale/audit", None).await.expect(200);
    let seen = actions(&history);
    assert_eq!(seen.first().map(String::as_str), Some("org.delete"));
    for action in ["invite.create", "member.add", "org.create"] {
        assert!(seen.iter().any(|a| a == action), "{seen:?}");
    }

    // mallory's own org starts with a full invite budget.
    create_org_as(
        &t,
        Some("mallory"),
        "mallory-co",
        json!({"email": "mallory@evil.test"}),
    )
    .await
    .expect(201);
    let two = json!({"invites": [{"email": "j1@example.com", "role": "member"}, {"email": "j2@example.com", "role": "member"}], "send_email": false});
    t.post("/v1/orgs/mallory-co/invites", Some("mallory"), two)
        .await
        .expect(201);
    assert_eq!(
        actions(
            &t.get("/v1/orgs/mallory-co/audit", Some("mallory"))
                .await
                .expect(200)
        ),
        ["invite.create", "invite.create", "org.create"]
    );
}

async fn decide(t: &TestApp, ask: &Value) -> String {
    t.post("/v1/is_authorized", None, ask.clone())
        .await
        .expect(200)
        .body["decision"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn forward(t: &TestApp, uri: &str, user: &str) -> Resp {
    let req = Request::builder()
        .method("GET")
        .uri("/v1/forward_auth")
        .header("x-original-method", "GET")
        .header("x-original-uri", uri)
        .header("x-user-id", user)
        .body(Body::empty())
        .unwrap();
    t.send(req).await
}

#[tokio::test]
async fn a_deleted_workspace_id_never_flips_a_host_decision() {
    let t = TestApp::builder()
        .with_host_resources()
        .with_routes(DOC_ROUTES)
        .build();
    t.seed_acme().await;
    t.create_workspace("acme", "design").await;
    create_org_as(
        &t,
        Some("mallory"),
        "evil",
        json!({"email": "mallory@evil.test"}),
    )
    .await
    .expect(201);
    let doc = json!({"type": "Document", "id": "spec"});
    let ask = json!({
        "principal": {"type": "User", "id": "mallory"},
        "action": {"type": "Action", "id": "document.read"},
        "resource": doc,
        "entities": [{"uid": doc, "attrs": {"workspace": workspace("design")},
                      "parents": [workspace("design")]}],
    });
    assert_eq!(decide(&t, &ask).await, "Deny");
    forward(&t, "/ws/design/docs/spec", "mallory")
        .await
        .expect(403);

    t.delete("/v1/orgs/acme/workspaces/design", Some("olive"))
        .await
        .expect(204);
    let refused = t
        .post(
            "/v1/orgs/evil/workspaces",
            Some("mallory"),
            json!({"id": "design", "name": "Design"}),
        )
        .await
        .expect_error(409, "already_exists");
    assert!(refused.body["detail"].as_str().unwrap().contains("deleted"));
    // Not even acme, nor a system call, brings it back.
    t.post(
        "/v1/orgs/acme/workspaces",
        None,
        json!({"id": "design", "name": "Design"}),
    )
    .await
    .expect_error(409, "already_exists");
    assert_eq!(decide(&t, &ask).await, "Deny");
    forward(&t, "/ws/design/docs/spec", "mallory")
        .await
        .expect(403);

    // Deleting an organization retires its workspaces' ids with it.
    t.create_org("gone", "gus").await;
    t.create_workspace("gone", "gone-ws").await;
    t.delete("/v1/orgs/gone", Some("gus")).await.expect(204);
    t.post(
        "/v1/orgs/evil/workspaces",
        Some("mallory"),
        json!({"id": "gone-ws", "name": "Mine"}),
    )
    .await
    .expect_error(409, "already_exists");
    // Ids the sidecar generates are fresh.
    let made = t
        .post(
            "/v1/orgs/evil/workspaces",
            Some("mallory"),
            json!({"name": "Mine"}),
        )
        .await
        .expect(201);
    assert!(made.body["id"].as_str().unwrap().starts_with("ws_"));
}

#[tokio::test]
async fn another_tenant_cannot_rewrite_a_members_email() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.set_workspace_member("acme", "ws1", "olive", "admin")
        .await;
    create_org_as(
        &t,
        Some("mallory"),
        "evil",
        json!({"email": "mallory@evil.test"}),
    )
    .await
    .expect(201);
    // mallory may add whom she likes to her own org, with any address.
    t.put(
        "/v1/orgs/evil/members/olive",
        Some("mallory"),
        json!({"email": "mallory@evil.test", "role": "member"}),
    )
    .await
    .expect(201);
    // A system call adding olive elsewhere changes nothing in acme either.
    create_org_as(
        &t,
        None,
        "sys",
        json!({"id": "olive", "email": "olive@elsewhere.test"}),
    )
    .await
    .expect(201);

    assert_eq!(
        listed_email(&t, "acme", "olive", "olive").await,
        "olive@example.com"
    );
    let ws_members = t
        .get("/v1/orgs/acme/workspaces/ws1/members", Some("olive"))
        .await
        .expect(200);
    let olive = ws_members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == "olive")
        .unwrap()
        .clone();
    assert_eq!(olive["email"], "olive@example.com");
    // Each org shows the address it was given.
    assert_eq!(
        listed_email(&t, "evil", "mallory", "olive").await,
        "mallory@evil.test"
    );
    assert_eq!(
        listed_email(&t, "sys", "olive", "olive").await,
        "olive@elsewhere.test"
    );

    // acme's own rules see acme's memberships only.
    t.post(
        "/v1/orgs/acme/invites",
        Some("olive"),
        invite_body("olive@example.com"),
    )
    .await
    .expect_error(409, "already_member");
    let invited = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            invite_body("mallory@evil.test"),
        )
        .await
        .expect(201);
    let token = invited.body["invites"][0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.post(
        "/v1/invites/accept",
        None,
        json!({"token": token, "user": {"id": "mal", "email": "mallory@evil.test"}}),
    )
    .await
    .expect(200);
    assert_eq!(
        listed_email(&t, "acme", "olive", "mal").await,
        "mallory@evil.test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_mail_names_the_inviter_as_their_org_knows_them() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let t = TestApp::builder()
        .with_background()
        .with_settings(move |s| s.smtp_url = Some(url))
        .build();
    t.seed_acme().await;
    create_org_as(
        &t,
        Some("mallory"),
        "evil",
        json!({"email": "mallory@evil.test"}),
    )
    .await
    .expect(201);
    t.put(
        "/v1/orgs/evil/members/adam",
        Some("mallory"),
        json!({"email": "mallory@evil.test", "role": "member"}),
    )
    .await
    .expect(201);
    t.post(
        "/v1/orgs/acme/invites",
        Some("adam"),
        json!({"invites": [{"email": "bob@example.com", "role": "member"}]}),
    )
    .await
    .expect(201);
    let mail = smtp.wait_for("bob@example.com", MAIL_WAIT).await;
    for part in [&mail.subject, &mail.text, &mail.html] {
        assert!(part.contains("adam@example.com"), "{part}");
        assert!(!part.contains("evil.test"), "{part}");
    }
}

#[tokio::test]
async fn only_the_owner_themself_or_a_system_call_names_a_new_owner() {
    let t = TestApp::new();
    t.seed_acme().await;
    let denied = create_org_as(
        &t,
        Some("mallory"),
        "trap",
        json!({"id": "olive", "email": "mallory@evil.test"}),
    )
    .await
    .expect_error(403, "forbidden");
    assert!(denied.body["detail"].as_str().unwrap().contains("olive"));
    t.get("/v1/orgs/trap", None)
        .await
        .expect_error(404, "not_found");
    let olives = t
        .get("/v1/users/olive/orgs", Some("olive"))
        .await
        .expect(200);
    assert_eq!(olives.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed_email(&t, "acme", "olive", "olive").await,
        "olive@example.com"
    );
    // Naming oneself, or no one, is fine; so is a system call naming anyone.
    create_org_as(
        &t,
        Some("mallory"),
        "mine",
        json!({"id": "mallory", "email": "mallory@evil.test"}),
    )
    .await
    .expect(201);
    create_org_as(
        &t,
        None,
        "provisioned",
        json!({"id": "olive", "email": "olive@example.com"}),
    )
    .await
    .expect(201);
}
