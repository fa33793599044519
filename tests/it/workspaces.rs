//! Workspaces: creation and deletion rights, filtered listing, workspace
//! members (only org members), the admin cascade.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn listing_shows_only_readable_workspaces() {
    let t = TestApp::new();
    t.seed_acme().await;
    let ids = |r: Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(t
            .get("/v1/orgs/acme/workspaces", Some("carl"))
            .await
            .expect(200)),
        ["ws1", "ws2"]
    );
    assert_eq!(
        ids(t
            .get("/v1/orgs/acme/workspaces", Some("mia"))
            .await
            .expect(200)),
        ["ws1"]
    );
    assert!(ids(t
        .get("/v1/orgs/acme/workspaces", Some("nick"))
        .await
        .expect(200))
    .is_empty());
    assert!(ids(t
        .get("/v1/orgs/acme/workspaces", Some("stranger"))
        .await
        .expect(200))
    .is_empty());
    t.get("/v1/orgs/acme/workspaces/ws2", Some("mia"))
        .await
        .expect_error(403, "forbidden");
    t.get("/v1/orgs/acme/workspaces/ws1", Some("mia"))
        .await
        .expect(200);
}

#[tokio::test]
async fn filtered_listing_pages_through_everything_readable() {
    let t = TestApp::new();
    t.create_org("big", "olive").await;
    t.add_member("big", "mia", "member").await;
    for i in 0..12 {
        t.create_workspace("big", &format!("w{i:02}")).await;
        if i % 3 == 0 {
            t.set_workspace_member("big", &format!("w{i:02}"), "mia", "member")
                .await;
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/orgs/big/workspaces?limit=2&cursor={c}"),
            None => "/v1/orgs/big/workspaces?limit=2".into(),
        };
        let page = t.get(&path, Some("mia")).await.expect(200);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["w00", "w03", "w06", "w09"]);
}

#[tokio::test]
async fn create_and_delete_need_org_admins() {
    let t = TestApp::new();
    t.seed_acme().await;
    for who in ["carl", "mia", "wanda", "stranger"] {
        t.post("/v1/orgs/acme/workspaces", Some(who), json!({"name": "x"}))
            .await
            .expect_error(403, "forbidden");
        t.delete("/v1/orgs/acme/workspaces/ws1", Some(who))
            .await
            .expect_error(403, "forbidden");
    }
    let created = t
        .post(
            "/v1/orgs/acme/workspaces",
            Some("adam"),
            json!({"name": "Design"}),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ws_"));
    assert_eq!(created.body["org_id"], "acme");
    t.post(
        "/v1/orgs/acme/workspaces",
        Some("adam"),
        json!({"id": "ws1", "name": "dup"}),
    )
    .await
    .expect_error(409, "already_exists");
    t.delete(&format!("/v1/orgs/acme/workspaces/{id}"), Some("adam"))
        .await
        .expect(204);
    t.delete(&format!("/v1/orgs/acme/workspaces/{id}"), Some("adam"))
        .await
        .expect_error(404, "not_found");
    // A workspace is only reachable through its own organization.
    t.create_org("globex", "gus").await;
    t.delete("/v1/orgs/globex/workspaces/ws1", Some("gus"))
        .await
        .expect_error(404, "not_found");
    t.delete("/v1/orgs/acme/workspaces/ws1", Some("olive"))
        .await
        .expect(204);
    assert!(
        !t.allowed("mia", "workspace.read", workspace("ws1"), json!({}))
            .await
    );
}

#[tokio::test]
async fn workspace_admins_manage_their_workspace_only() {
    let t = TestApp::new();
    t.seed_acme().await;
    // wanda administers ws1, not ws2.
    t.put(
        "/v1/orgs/acme/workspaces/ws1/members/nick",
        Some("wanda"),
        json!({"role": "member"}),
    )
    .await
    .expect(200);
    t.put(
        "/v1/orgs/acme/workspaces/ws2/members/nick",
        Some("wanda"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
    // A plain workspace member manages no one.
    t.put(
        "/v1/orgs/acme/workspaces/ws1/members/carl",
        Some("mia"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
    // Org admins manage every workspace (cascade).
    let set = t
        .put(
            "/v1/orgs/acme/workspaces/ws2/members/nick",
            Some("adam"),
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
    assert_eq!(set.body["role"], "admin");
    assert!(
        t.allowed(
            "nick",
            "workspace.manage_members",
            workspace("ws2"),
            json!({"role": "member"})
        )
        .await
    );
    // Only organization members can hold a workspace role.
    t.put(
        "/v1/orgs/acme/workspaces/ws1/members/stranger",
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(409, "not_a_member");
    t.put(
        "/v1/orgs/acme/workspaces/ws1/members/nick",
        Some("adam"),
        json!({"role": "owner"}),
    )
    .await
    .expect_error(400, "invalid_request");
    // Removal.
    t.delete("/v1/orgs/acme/workspaces/ws1/members/nick", Some("wanda"))
        .await
        .expect(204);
    t.delete("/v1/orgs/acme/workspaces/ws1/members/nick", Some("wanda"))
        .await
        .expect_error(404, "not_found");
    let members = t
        .get("/v1/orgs/acme/workspaces/ws1/members", Some("mia"))
        .await
        .expect(200);
    let ids: Vec<&str> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mia", "wanda"]);
    let audit = t
        .get("/v1/orgs/acme/audit?limit=1", Some("olive"))
        .await
        .expect(200);
    assert_eq!(audit.body["items"][0]["action"], "workspace.member_remove");
    assert_eq!(audit.body["items"][0]["actor"], "wanda");
}
