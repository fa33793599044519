//! `GET|POST /v1/users/{user}/permissions`: every action a user may perform
//! on a resource, in one call.

use serde_json::{json, Value};

use crate::support::*;

fn actions(resp: &Resp) -> Vec<String> {
    resp.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// `Organization::"acme"`, URL-encoded for a query string.
fn query(resource: &str) -> String {
    resource.replace('"', "%22").replace(':', "%3A")
}

#[tokio::test]
async fn each_role_gets_its_own_buttons() {
    let t = TestApp::new();
    t.seed_acme().await;
    let org = query("Organization::\"acme\"");
    let path = |user: &str| format!("/v1/users/{user}/permissions?resource={org}");
    let owner = t.get(&path("olive"), None).await.expect(200);
    let member = t.get(&path("mia"), None).await.expect(200);
    let carl = t.get(&path("carl"), None).await.expect(200);
    let stranger = t.get(&path("stranger"), None).await.expect(200);
    for action in [
        "org.read",
        "org.update",
        "org.delete",
        "audit.read",
        "billing.update",
        "workspace.create",
    ] {
        assert!(
            actions(&owner).contains(&action.to_owned()),
            "owner lacks {action}"
        );
    }
    assert_eq!(
        actions(&member),
        ["member.leave", "member.list", "org.read"]
    );
    assert!(actions(&carl).contains(&"invoice.read".to_owned()));
    assert!(!actions(&carl).contains(&"org.update".to_owned()));
    assert!(actions(&stranger).is_empty());
    // Role-granting actions are answered without the role ("for some role").
    let owner_actions = actions(&owner);
    assert!(
        owner_actions.contains(&"member.invite".to_owned())
            && owner_actions.contains(&"member.update_role".to_owned())
    );
    assert_eq!(owner.body["needs_context"], json!([]));
    assert_eq!(owner.body["resource"], "Organization::\"acme\"");
    assert!(owner.body["policy_revision"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // The answer agrees with is_authorized, action by action.
    for action in actions(&carl) {
        assert!(
            t.allowed("carl", &action, org_ref("acme"), json!({})).await,
            "{action}"
        );
    }
    // Workspace buttons follow workspace membership.
    let ws = query("Workspace::\"ws1\"");
    let mia_ws = t
        .get(&format!("/v1/users/mia/permissions?resource={ws}"), None)
        .await
        .expect(200);
    assert_eq!(actions(&mia_ws), ["workspace.read"]);
    let nick_ws = t
        .get(&format!("/v1/users/nick/permissions?resource={ws}"), None)
        .await
        .expect(200);
    assert!(actions(&nick_ws).is_empty());
}

fn org_ref(id: &str) -> Value {
    org(id)
}

#[tokio::test]
async fn host_resources_come_with_their_entities() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    let body = |user: &str| {
        (
            format!("/v1/users/{user}/permissions"),
            json!({
                "resource": {"type": "Document", "id": "d1"},
                "entities": [{"uid": {"type": "Document", "id": "d1"},
                              "attrs": {"workspace": {"type": "Workspace", "id": "ws1"}},
                              "parents": [{"type": "Workspace", "id": "ws1"}]}],
            }),
        )
    };
    let (path, b) = body("wanda");
    assert_eq!(
        actions(&t.post(&path, None, b).await.expect(200)),
        ["document.edit", "document.read"]
    );
    let (path, b) = body("mia");
    assert_eq!(
        actions(&t.post(&path, None, b).await.expect(200)),
        ["document.read"]
    );
    let (path, b) = body("nick");
    assert!(actions(&t.post(&path, None, b).await.expect(200)).is_empty());
}

#[tokio::test]
async fn bad_resources_and_users_are_refused() {
    let t = TestApp::new();
    t.get("/v1/users/mia/permissions?resource=nonsense", None)
        .await
        .expect_error(400, "invalid_request");
    t.get("/v1/users/mia/permissions", None)
        .await
        .expect_error(400, "invalid_request");
    t.get(
        &format!(
            "/v1/users/bad%20id/permissions?resource={}",
            query("Organization::\"acme\"")
        ),
        None,
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/users/mia/permissions",
        None,
        json!({"resource": "Organization::\"acme\"", "extra": 1}),
    )
    .await
    .expect_error(400, "invalid_request");
}
