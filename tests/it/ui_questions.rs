//! Questions a UI asks without the role being granted ("may bob manage
//! this workspace's members?"): the role context is optional, the answer is
//! whether the principal may do it for some role, and the management calls,
//! which always pass the role, still enforce what each role may grant.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn role_actions_can_be_asked_without_a_role() {
    let t = TestApp::new();
    t.seed_acme().await;
    for ctx in [json!({}), Value::Null] {
        // Workspace members: org admins and the workspace's own admins.
        for (user, expected) in [
            ("olive", true),
            ("adam", true),
            ("wanda", true),
            ("mia", false),
            ("carl", false),
        ] {
            assert_eq!(
                t.allowed(
                    user,
                    "workspace.manage_members",
                    workspace("ws1"),
                    ctx.clone()
                )
                .await,
                expected,
                "{user} manage_members on ws1"
            );
        }
        assert!(
            !t.allowed(
                "wanda",
                "workspace.manage_members",
                workspace("ws2"),
                ctx.clone()
            )
            .await
        );
        for action in [
            "member.invite",
            "member.add",
            "member.update_role",
            "member.remove",
            "invite.update",
            "invite.resend",
            "invite.revoke",
        ] {
            for (user, expected) in [
                ("olive", true),
                ("adam", true),
                ("carl", false),
                ("mia", false),
                ("stranger", false),
            ] {
                assert_eq!(
                    t.allowed(user, action, org("acme"), ctx.clone()).await,
                    expected,
                    "{user} {action} without a role"
                );
            }
        }
        assert!(
            t.allowed("mia", "member.leave", org("acme"), ctx.clone())
                .await
        );
    }
    // A role given is still checked: admins grant no owner role.
    assert!(
        !t.allowed("adam", "member.add", org("acme"), json!({"role": "owner"}))
            .await
    );
    // A context field the schema does not declare is refused.
    t.decide(
        "adam",
        "member.invite",
        org("acme"),
        json!({"rank": "owner"}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn management_calls_still_check_the_role_granted() {
    let t = TestApp::new();
    t.seed_acme().await;
    // adam (admin) may add members "for some role", but not owners.
    t.put(
        "/v1/orgs/acme/members/zed",
        Some("adam"),
        json!({"email": "zed@example.com", "role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    t.patch(
        "/v1/orgs/acme/members/mia",
        Some("adam"),
        json!({"role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme/members/olive", Some("adam"))
        .await
        .expect_error(403, "forbidden");
    t.put(
        "/v1/orgs/acme/members/zed",
        Some("adam"),
        json!({"email": "zed@example.com", "role": "member"}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn permissions_list_the_role_actions_for_ui_buttons() {
    let t = TestApp::new();
    t.seed_acme().await;
    let path =
        |user: &str| format!("/v1/users/{user}/permissions?resource=Organization::%22acme%22");
    let admin = t.get(&path("adam"), None).await.expect(200);
    let actions = admin.body["actions"].as_array().unwrap();
    for action in [
        "member.invite",
        "member.add",
        "member.update_role",
        "invite.update",
    ] {
        assert!(actions.contains(&json!(action)), "{action} in {actions:?}");
    }
    assert_eq!(admin.body["needs_context"], json!([]));
    let ws = t
        .get(
            "/v1/users/wanda/permissions?resource=Workspace::%22ws1%22",
            None,
        )
        .await
        .expect(200);
    assert!(ws.body["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("workspace.manage_members")));
}
