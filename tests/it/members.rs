//! Organizations and memberships through the management API: escalation
//! attempts, the last-owner invariant, ownership transfer, leave, audit,
//! pagination, and decisions seeing each change as soon as the call returns.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn escalation_attempts_are_forbidden() {
    let t = TestApp::new();
    t.seed_acme().await;
    let add = |actor: &'static str, user: &'static str, role: &'static str| {
        let t = &t;
        async move {
            t.put(
                &format!("/v1/orgs/acme/members/{user}"),
                Some(actor),
                json!({"email": format!("{user}@example.com"), "role": role}),
            )
            .await
        }
    };
    // An admin cannot grant owner, accounting and members cannot add anyone.
    add("adam", "eve", "owner")
        .await
        .expect_error(403, "forbidden");
    add("carl", "eve", "member")
        .await
        .expect_error(403, "forbidden");
    add("mia", "eve", "member")
        .await
        .expect_error(403, "forbidden");
    add("stranger", "eve", "member")
        .await
        .expect_error(403, "forbidden");
    // An admin cannot promote to or demote from owner.
    t.patch(
        "/v1/orgs/acme/members/mia",
        Some("adam"),
        json!({"role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    t.patch(
        "/v1/orgs/acme/members/olive",
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(403, "forbidden");
    // A member cannot remove someone; an admin cannot remove an owner.
    t.delete("/v1/orgs/acme/members/nick", Some("mia"))
        .await
        .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme/members/olive", Some("adam"))
        .await
        .expect_error(403, "forbidden");
    // Nothing changed.
    let members = t
        .get("/v1/orgs/acme/members", Some("olive"))
        .await
        .expect(200);
    let roles: Vec<(String, String)> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(roles.contains(&("olive".into(), "owner".into())));
    assert!(roles.contains(&("mia".into(), "member".into())));
    assert!(!roles.iter().any(|(u, _)| u == "eve"));

    // What admins may do, they can.
    add("adam", "eve", "accounting").await.expect(201);
    t.patch(
        "/v1/orgs/acme/members/eve",
        Some("adam"),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    t.delete("/v1/orgs/acme/members/eve", Some("adam"))
        .await
        .expect(204);
    // And owners may grant owner.
    add("olive", "oscar", "owner").await.expect(201);
}

#[tokio::test]
async fn an_organization_always_keeps_an_owner() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.delete("/v1/orgs/acme/members/olive", Some("olive"))
        .await
        .expect_error(409, "last_owner");
    t.patch(
        "/v1/orgs/acme/members/olive",
        Some("olive"),
        json!({"role": "admin"}),
    )
    .await
    .expect_error(409, "last_owner");
    // Even a system call cannot break the invariant.
    t.delete("/v1/orgs/acme/members/olive", None)
        .await
        .expect_error(409, "last_owner");
    // With a second owner, the first may step down and leave.
    t.patch(
        "/v1/orgs/acme/members/adam",
        Some("olive"),
        json!({"role": "owner"}),
    )
    .await
    .expect(200);
    t.patch(
        "/v1/orgs/acme/members/olive",
        Some("olive"),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    t.delete("/v1/orgs/acme/members/adam", Some("adam"))
        .await
        .expect_error(409, "last_owner");
    t.delete("/v1/orgs/acme/members/olive", Some("olive"))
        .await
        .expect(204);
    let org = t.get("/v1/orgs/acme", Some("adam")).await.expect(200);
    assert_eq!(org.body["member_count"], 5);
}

#[tokio::test]
async fn members_leave_and_lose_their_rights_at_once() {
    let t = TestApp::new();
    t.seed_acme().await;
    assert!(
        t.allowed("carl", "invoice.read", org("acme"), json!({}))
            .await
    );
    // Leaving is member.leave, which every member may do.
    t.delete("/v1/orgs/acme/members/carl", Some("carl"))
        .await
        .expect(204);
    assert!(
        !t.allowed("carl", "invoice.read", org("acme"), json!({}))
            .await
    );
    // mia loses her workspace role with her membership.
    assert!(
        t.allowed("mia", "workspace.read", workspace("ws1"), json!({}))
            .await
    );
    t.delete("/v1/orgs/acme/members/mia", Some("mia"))
        .await
        .expect(204);
    assert!(
        !t.allowed("mia", "workspace.read", workspace("ws1"), json!({}))
            .await
    );
    let ws_members = t
        .get("/v1/orgs/acme/workspaces/ws1/members", Some("olive"))
        .await
        .expect(200);
    assert!(!ws_members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["user_id"] == "mia"));
    // Someone who is not a member cannot "leave".
    t.delete("/v1/orgs/acme/members/stranger", Some("stranger"))
        .await
        .expect_error(403, "forbidden");
    // A missing member is 404 for those who may manage members.
    t.delete("/v1/orgs/acme/members/ghost", Some("olive"))
        .await
        .expect_error(404, "not_found");
    t.patch(
        "/v1/orgs/acme/members/ghost",
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect_error(404, "not_found");
    // ...and 403 (not 404) for those who may not: no membership oracle.
    t.delete("/v1/orgs/acme/members/ghost", Some("nick"))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn role_changes_apply_to_decisions_when_the_call_returns() {
    let t = TestApp::new();
    t.seed_acme().await;
    assert!(!t.allowed("mia", "org.update", org("acme"), json!({})).await);
    let before = t
        .decide("mia", "org.update", org("acme"), json!({}))
        .await
        .expect(200);
    let changed = t
        .patch(
            "/v1/orgs/acme/members/mia",
            Some("adam"),
            json!({"role": "admin"}),
        )
        .await
        .expect(200);
    assert_eq!(changed.body["role"], "admin");
    let after = t
        .decide("mia", "org.update", org("acme"), json!({}))
        .await
        .expect(200);
    assert_eq!(after.body["decision"], "Allow");
    assert_eq!(after.body["reasons"], json!(["admins-update-org"]));
    assert!(after.body["data_revision"].as_u64() > before.body["data_revision"].as_u64());
}

#[tokio::test]
async fn ownership_transfer_is_atomic_and_owner_only() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.post(
        "/v1/orgs/acme/ownership",
        Some("adam"),
        json!({"to": "adam"}),
    )
    .await
    .expect_error(403, "forbidden");
    t.post(
        "/v1/orgs/acme/ownership",
        Some("olive"),
        json!({"to": "stranger"}),
    )
    .await
    .expect_error(409, "not_a_member");
    let new_owner = t
        .post(
            "/v1/orgs/acme/ownership",
            Some("olive"),
            json!({"to": "mia"}),
        )
        .await
        .expect(200);
    assert_eq!(new_owner.body["user_id"], "mia");
    assert_eq!(new_owner.body["role"], "owner");
    let olive = t
        .get("/v1/orgs/acme/members?role=admin", Some("mia"))
        .await
        .expect(200);
    assert!(olive.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["user_id"] == "olive"));
    assert!(t.allowed("mia", "org.delete", org("acme"), json!({})).await);
    assert!(
        !t.allowed("olive", "org.delete", org("acme"), json!({}))
            .await
    );
    let owners = t
        .get("/v1/orgs/acme/members?role=owner", Some("mia"))
        .await
        .expect(200);
    assert_eq!(owners.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn add_member_conflicts_and_validation() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.put(
        "/v1/orgs/acme/members/mia",
        Some("olive"),
        json!({"email": "mia@example.com", "role": "member"}),
    )
    .await
    .expect_error(409, "already_member");
    t.put(
        "/v1/orgs/acme/members/zed",
        Some("olive"),
        json!({"email": "not-an-email", "role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/members/zed",
        Some("olive"),
        json!({"email": "zed@example.com", "role": "root"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/acme/members/bad%20id",
        Some("olive"),
        json!({"email": "zed@example.com", "role": "member"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.put(
        "/v1/orgs/nope/members/zed",
        Some("olive"),
        json!({"email": "zed@example.com", "role": "member"}),
    )
    .await
    .expect_error(404, "not_found");
    // Emails are stored normalized.
    let added = t
        .put(
            "/v1/orgs/acme/members/zed",
            Some("olive"),
            json!({"email": "  Zed@Example.COM ", "role": "member"}),
        )
        .await
        .expect(201);
    assert_eq!(added.body["email"], "zed@example.com");
}

#[tokio::test]
async fn members_are_paginated_and_filtered() {
    let t = TestApp::new();
    t.seed_acme().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/orgs/acme/members?limit=2&cursor={c}"),
            None => "/v1/orgs/acme/members?limit=2".to_owned(),
        };
        let page = t.get(&path, Some("mia")).await.expect(200);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|m| m["user_id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["adam", "carl", "mia", "nick", "olive", "wanda"]);
    let admins = t
        .get("/v1/orgs/acme/members?role=admin", Some("mia"))
        .await
        .expect(200);
    assert_eq!(admins.body["items"].as_array().unwrap().len(), 1);
    for bad in ["limit=0", "limit=201", "limit=x", "cursor=%%%", "role=root"] {
        t.get(&format!("/v1/orgs/acme/members?{bad}"), Some("mia"))
            .await
            .expect_error(400, "invalid_request");
    }
    t.get("/v1/orgs/acme/members", Some("stranger"))
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn organizations_read_update_delete() {
    let t = TestApp::new();
    t.seed_acme().await;
    let org_body = t.get("/v1/orgs/acme", Some("mia")).await.expect(200);
    assert_eq!(org_body.body["member_count"], 6);
    assert!(org_body.body["created_at"].as_str().unwrap().ends_with('Z'));
    t.get("/v1/orgs/acme", Some("stranger"))
        .await
        .expect_error(403, "forbidden");
    t.get("/v1/orgs/none", Some("mia"))
        .await
        .expect_error(404, "not_found");
    t.patch("/v1/orgs/acme", Some("mia"), json!({"name": "Mine"}))
        .await
        .expect_error(403, "forbidden");
    let renamed = t
        .patch("/v1/orgs/acme", Some("adam"), json!({"name": "Acme Inc"}))
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Acme Inc");
    t.post(
        "/v1/orgs",
        Some("mia"),
        json!({"id": "acme", "name": "Again", "owner": {"email": "mia@example.com"}}),
    )
    .await
    .expect_error(409, "already_exists");
    t.delete("/v1/orgs/acme", Some("adam"))
        .await
        .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme", Some("olive")).await.expect(204);
    t.get("/v1/orgs/acme", Some("olive"))
        .await
        .expect_error(404, "not_found");
    assert!(!t.allowed("olive", "org.read", org("acme"), json!({})).await);
    assert!(
        !t.allowed("mia", "workspace.read", workspace("ws1"), json!({}))
            .await
    );
    // The audit log outlives the organization (readable by a system call).
    let audit = t
        .get("/v1/orgs/acme/audit?limit=200", None)
        .await
        .expect(200);
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"org.delete"));
    assert_eq!(actions.last(), Some(&"org.create"));
}

#[tokio::test]
async fn creating_an_org_makes_the_actor_its_owner() {
    let t = TestApp::new();
    let created = t
        .post(
            "/v1/orgs",
            Some("zoe"),
            json!({"name": "Zoe's", "owner": {"email": "zoe@example.com"}}),
        )
        .await
        .expect(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("org_"), "{id}");
    assert!(t.allowed("zoe", "org.delete", org(&id), json!({})).await);
    let mine = t.get("/v1/users/zoe/orgs", Some("zoe")).await.expect(200);
    assert_eq!(mine.body["items"][0]["org"]["id"], id.as_str());
    assert_eq!(mine.body["items"][0]["role"], "owner");
    // A system call must name the owner.
    t.post(
        "/v1/orgs",
        None,
        json!({"name": "Nobody's", "owner": {"email": "x@example.com"}}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.post(
        "/v1/orgs",
        Some("zoe"),
        json!({"name": "", "owner": {"email": "zoe@example.com"}}),
    )
    .await
    .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn every_change_is_audited_with_its_actor() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.patch(
        "/v1/orgs/acme/members/mia",
        Some("adam"),
        json!({"role": "accounting"}),
    )
    .await
    .expect(200);
    t.delete("/v1/orgs/acme/members/nick", Some("adam"))
        .await
        .expect(204);
    t.patch("/v1/orgs/acme", Some("olive"), json!({"name": "Acme 2"}))
        .await
        .expect(200);
    t.get("/v1/orgs/acme/audit", Some("mia"))
        .await
        .expect_error(403, "forbidden");
    let audit = t
        .get("/v1/orgs/acme/audit?limit=3", Some("adam"))
        .await
        .expect(200);
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(items[0]["action"], "org.update");
    assert_eq!(items[0]["actor"], "olive");
    assert_eq!(items[1]["action"], "member.remove");
    assert_eq!(items[1]["target"], "User::nick");
    assert_eq!(items[2]["action"], "member.update_role");
    assert_eq!(
        items[2]["details"],
        json!({"from": "member", "to": "accounting"})
    );
    let next = audit.body["next_cursor"].as_str().unwrap();
    let older = t
        .get(
            &format!("/v1/orgs/acme/audit?limit=200&cursor={next}"),
            Some("adam"),
        )
        .await
        .expect(200);
    let older_items = older.body["items"].as_array().unwrap();
    assert!(older_items
        .iter()
        .all(|e| e["id"].as_str().unwrap().parse::<u64>().unwrap()
            < items[2]["id"].as_str().unwrap().parse::<u64>().unwrap()));
    assert_eq!(older_items.last().unwrap()["action"], "org.create");
    assert_eq!(older_items.last().unwrap()["actor"], "system");
}
