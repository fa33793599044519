//! Custom roles: the roles API, the grantable permissions, no escalation
//! through roles, assignment wherever a role is accepted, and the grants as
//! Cedar policies that decisions, reasons, the policy listing, file
//! `forbid`s and the command-line tools all see.

use serde_json::{json, Value};

use crate::support::*;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn create_role(t: &TestApp, actor: Option<&str>, key: &str, permissions: &[&str]) -> Resp {
    t.post(
        "/v1/orgs/acme/roles",
        actor,
        json!({"key": key, "name": format!("Role {key}"), "permissions": permissions}),
    )
    .await
}

/// `actor` adds `user` to acme with `role`.
async fn add(t: &TestApp, actor: &str, user: &str, role: &str) -> Resp {
    let body = json!({"email": format!("{user}@x.io"), "role": role});
    t.put(&format!("/v1/orgs/acme/members/{user}"), Some(actor), body)
        .await
}

/// `actor` gives member `user` of acme `role`.
async fn set_role(t: &TestApp, actor: &str, user: &str, role: &str) -> Resp {
    let body = json!({"role": role});
    t.patch(&format!("/v1/orgs/acme/members/{user}"), Some(actor), body)
        .await
}

/// `actor` invites `email` to acme with `role`, without mail.
async fn invite(t: &TestApp, actor: &str, email: &str, role: &str) -> Resp {
    let body = json!({"invites": [{"email": email, "role": role}], "send_email": false});
    t.post("/v1/orgs/acme/invites", Some(actor), body).await
}

async fn seeded() -> TestApp {
    let t = TestApp::new();
    t.seed_acme().await;
    t
}

#[tokio::test]
async fn roles_are_created_read_renamed_and_deleted() {
    let t = seeded().await;
    let catalog = t.get("/v1/permissions", None).await.expect(200);
    let items = catalog.body["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|p| p["action"] == "billing.read" && !p["description"].as_str().unwrap().is_empty()));
    assert!(items.iter().any(|p| p["action"] == "role.manage"));
    assert!(
        !items.iter().any(|p| p["action"] == "org.delete"),
        "owner-only actions are not grantable"
    );

    let created = t
        .post(
            "/v1/orgs/acme/roles",
            Some("olive"),
            json!({"key": "dev", "name": "Developer", "description": "builds things",
                   "permissions": ["workspace.create", "billing.read", "billing.read"]}),
        )
        .await
        .expect(201);
    assert_eq!(created.body["key"], "dev");
    assert_eq!(created.body["builtin"], false);
    assert_eq!(
        strings(&created.body["permissions"]),
        ["billing.read", "workspace.create"]
    );

    // Any member sees the roles; built-ins first, with what the policies give them.
    let list = t.get("/v1/orgs/acme/roles", Some("mia")).await.expect(200);
    let items = list.body["items"].as_array().unwrap();
    let keys: Vec<&str> = items.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["owner", "admin", "accounting", "member", "dev"]);
    let owner = strings(&items[0]["permissions"]);
    let admin = strings(&items[1]["permissions"]);
    assert!(
        owner.contains(&"billing.update".to_owned()) && owner.contains(&"role.manage".to_owned())
    );
    assert!(
        admin.contains(&"role.manage".to_owned()) && !admin.contains(&"billing.update".to_owned())
    );
    assert_eq!(items[0]["builtin"], true);

    let renamed = t
        .patch(
            "/v1/orgs/acme/roles/dev",
            Some("olive"),
            json!({"name": "Engineer"}),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Engineer");
    assert_eq!(renamed.body["key"], "dev");
    let got = t
        .get("/v1/orgs/acme/roles/dev", Some("mia"))
        .await
        .expect(200);
    assert_eq!(got.body["name"], "Engineer");
    t.get("/v1/orgs/acme/roles/admin", Some("mia"))
        .await
        .expect(200);

    // Built-in roles are read-only.
    t.patch(
        "/v1/orgs/acme/roles/admin",
        Some("olive"),
        json!({"name": "boss"}),
    )
    .await
    .expect_error(409, "read_only_role");
    t.delete("/v1/orgs/acme/roles/member", Some("olive"))
        .await
        .expect_error(409, "read_only_role");

    t.delete("/v1/orgs/acme/roles/dev", Some("olive"))
        .await
        .expect(204);
    t.get("/v1/orgs/acme/roles/dev", Some("mia"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn bad_roles_are_refused() {
    let t = seeded().await;
    for (body, code, status) in [
        (
            json!({"name": "x", "permissions": ["billing.steal"]}),
            "invalid_request",
            400,
        ),
        (
            json!({"name": "x", "permissions": ["org.delete"]}),
            "invalid_request",
            400,
        ),
        (
            json!({"key": "owner", "name": "x", "permissions": []}),
            "invalid_request",
            400,
        ),
        (
            json!({"key": "Dev", "name": "x", "permissions": []}),
            "invalid_request",
            400,
        ),
        (
            json!({"name": "Admin", "permissions": []}),
            "invalid_request",
            400,
        ),
        (
            json!({"name": "x", "permissions": [], "extra": 1}),
            "invalid_request",
            400,
        ),
    ] {
        t.post("/v1/orgs/acme/roles", Some("olive"), body)
            .await
            .expect_error(status, code);
    }
    create_role(&t, Some("olive"), "dev", &[]).await.expect(201);
    create_role(&t, Some("olive"), "dev", &[])
        .await
        .expect_error(409, "already_exists");
    // Managing roles is itself policy-checked: members may not.
    create_role(&t, Some("mia"), "mine", &[])
        .await
        .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme/roles/dev", Some("carl"))
        .await
        .expect_error(403, "forbidden");
    // A generated key is a valid key.
    let made = t
        .post(
            "/v1/orgs/acme/roles",
            Some("olive"),
            json!({"name": "Later", "permissions": []}),
        )
        .await
        .expect(201);
    assert!(made.body["key"].as_str().unwrap().starts_with("role_"));
}

#[tokio::test]
async fn no_one_defines_a_role_with_permissions_they_lack() {
    let t = seeded().await;
    // Admins lack billing.update (owners and accounting hold it).
    let denied = create_role(&t, Some("adam"), "payer", &["billing.update"])
        .await
        .expect_error(403, "forbidden");
    assert!(denied.body["detail"]
        .as_str()
        .unwrap()
        .contains("billing.update"));
    create_role(&t, Some("adam"), "viewer", &["billing.read"])
        .await
        .expect(201);
    t.patch(
        "/v1/orgs/acme/roles/viewer",
        Some("adam"),
        json!({"permissions": ["billing.read", "billing.update"]}),
    )
    .await
    .expect_error(403, "forbidden");
    // The owner may; then the admin may not even re-describe that role.
    t.patch(
        "/v1/orgs/acme/roles/viewer",
        Some("olive"),
        json!({"permissions": ["billing.read", "billing.update"]}),
    )
    .await
    .expect(200);
    t.patch(
        "/v1/orgs/acme/roles/viewer",
        Some("adam"),
        json!({"description": "mine now"}),
    )
    .await
    .expect_error(403, "forbidden");
    // A custom role with role.manage cannot mint more than it holds.
    create_role(&t, Some("olive"), "rolesmith", &["role.manage"])
        .await
        .expect(201);
    set_role(&t, "olive", "nick", "rolesmith").await.expect(200);
    create_role(&t, Some("nick"), "sneaky", &["org.update"])
        .await
        .expect_error(403, "forbidden");
    create_role(&t, Some("nick"), "plain", &[])
        .await
        .expect(201);
    // System calls are not policy-checked.
    create_role(&t, None, "anything", &["billing.update", "audit.read"])
        .await
        .expect(201);
}

#[tokio::test]
async fn admins_cannot_hand_out_a_role_with_permissions_they_lack() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "biller", &["billing.update"])
        .await
        .expect(201);
    add(&t, "adam", "bea", "biller")
        .await
        .expect_error(403, "forbidden");
    set_role(&t, "adam", "mia", "biller")
        .await
        .expect_error(403, "forbidden");
    invite(&t, "adam", "bea@x.io", "biller")
        .await
        .expect_error(403, "forbidden");
    // A custom role holder with member management grants no admin role.
    create_role(
        &t,
        Some("olive"),
        "recruiter",
        &["member.add", "member.invite"],
    )
    .await
    .expect(201);
    set_role(&t, "olive", "nick", "recruiter").await.expect(200);
    add(&t, "nick", "bea", "admin")
        .await
        .expect_error(403, "forbidden");
    add(&t, "nick", "bea", "member").await.expect(201);
    // The owner holds billing.update, so may.
    add(&t, "olive", "cy", "biller").await.expect(201);
}

#[tokio::test]
async fn custom_roles_are_accepted_wherever_a_role_is() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "dev", &["billing.read"])
        .await
        .expect(201);
    let added = t
        .put(
            "/v1/orgs/acme/members/dora",
            Some("adam"),
            json!({"email": "dora@x.io", "role": "dev"}),
        )
        .await
        .expect(201);
    assert_eq!(added.body["role"], "dev");
    set_role(&t, "adam", "mia", "dev").await.expect(200);
    let devs = t
        .get("/v1/orgs/acme/members?role=dev", Some("mia"))
        .await
        .expect(200);
    assert_eq!(devs.body["items"].as_array().unwrap().len(), 2);
    t.get("/v1/orgs/acme/members?role=ghost", Some("mia"))
        .await
        .expect_error(400, "invalid_request");
    add(&t, "adam", "eve", "ghost")
        .await
        .expect_error(400, "invalid_request");

    let created = t
        .post(
            "/v1/orgs/acme/invites",
            Some("adam"),
            json!({"invites": [{"email": "ivy@x.io", "role": "dev"}], "send_email": false}),
        )
        .await
        .expect(201);
    let invite = &created.body["invites"][0];
    assert_eq!(invite["role"], "dev");
    let id = invite["id"].as_str().unwrap();
    let token = invite["token"].as_str().unwrap();
    t.patch(
        &format!("/v1/orgs/acme/invites/{id}"),
        Some("adam"),
        json!({"role": "member"}),
    )
    .await
    .expect(200);
    let back = t
        .patch(
            &format!("/v1/orgs/acme/invites/{id}"),
            Some("adam"),
            json!({"role": "dev"}),
        )
        .await
        .expect(200);
    assert_eq!(back.body["role"], "dev");
    let accepted = t
        .post(
            "/v1/invites/accept",
            None,
            json!({"token": token, "user": {"id": "ivy", "email": "ivy@x.io"}}),
        )
        .await
        .expect(200);
    assert_eq!(accepted.body["role"], "dev");
    assert!(
        t.allowed("ivy", "billing.read", org("acme"), json!({}))
            .await
    );
    let orgs = t.get("/v1/users/ivy/orgs", Some("ivy")).await.expect(200);
    assert_eq!(orgs.body["items"][0]["role"], "dev");
}

#[tokio::test]
async fn a_role_in_use_cannot_be_deleted() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "dev", &[]).await.expect(201);
    set_role(&t, "olive", "mia", "dev").await.expect(200);
    t.delete("/v1/orgs/acme/roles/dev", Some("olive"))
        .await
        .expect_error(409, "role_in_use");
    set_role(&t, "olive", "mia", "member").await.expect(200);
    let created = t
        .post(
            "/v1/orgs/acme/invites",
            Some("olive"),
            json!({"invites": [{"email": "ivy@x.io", "role": "dev"}], "send_email": false}),
        )
        .await
        .expect(201);
    let id = created.body["invites"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.delete("/v1/orgs/acme/roles/dev", Some("olive"))
        .await
        .expect_error(409, "role_in_use");
    t.delete(&format!("/v1/orgs/acme/invites/{id}"), Some("olive"))
        .await
        .expect(200);
    t.delete("/v1/orgs/acme/roles/dev", Some("olive"))
        .await
        .expect(204);
}

#[tokio::test]
async fn decisions_follow_a_roles_permissions_at_once_and_survive_renames() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "dev", &[]).await.expect(201);
    set_role(&t, "olive", "nick", "dev").await.expect(200);
    assert!(
        !t.allowed("nick", "billing.read", org("acme"), json!({}))
            .await
    );
    // A custom role holder is a member.
    assert!(t.allowed("nick", "org.read", org("acme"), json!({})).await);

    t.patch(
        "/v1/orgs/acme/roles/dev",
        Some("olive"),
        json!({"permissions": ["billing.read"]}),
    )
    .await
    .expect(200);
    let resp = t
        .decide("nick", "billing.read", org("acme"), json!({}))
        .await
        .expect(200);
    assert_eq!(resp.body["decision"], "Allow");
    assert_eq!(resp.body["reasons"], json!(["role:acme:dev:billing.read"]));
    assert!(
        t.allowed("nick", "billing.read", workspace("ws2"), json!({}))
            .await
    );
    assert!(
        !t.allowed("nick", "billing.update", org("acme"), json!({}))
            .await
    );
    // Not in another organization.
    t.create_org("globex", "gus").await;
    t.add_member("globex", "nick", "member").await;
    assert!(
        !t.allowed("nick", "billing.read", org("globex"), json!({}))
            .await
    );

    t.patch(
        "/v1/orgs/acme/roles/dev",
        Some("olive"),
        json!({"name": "Developers"}),
    )
    .await
    .expect(200);
    let member = t
        .get("/v1/orgs/acme/members?role=dev", Some("olive"))
        .await
        .expect(200);
    assert_eq!(member.body["items"][0]["user_id"], "nick");
    assert!(
        t.allowed("nick", "billing.read", org("acme"), json!({}))
            .await
    );

    t.patch(
        "/v1/orgs/acme/roles/dev",
        Some("olive"),
        json!({"permissions": []}),
    )
    .await
    .expect(200);
    assert!(
        !t.allowed("nick", "billing.read", org("acme"), json!({}))
            .await
    );
}

#[tokio::test]
async fn role_policies_are_listed_and_a_file_forbid_still_wins() {
    let t = seeded().await;
    let before = t.get("/v1/policies", None).await.expect(200);
    create_role(
        &t,
        Some("olive"),
        "dev",
        &["billing.read", "workspace.read"],
    )
    .await
    .expect(201);
    set_role(&t, "olive", "nick", "dev").await.expect(200);
    let after = t.get("/v1/policies", None).await.expect(200);
    assert_ne!(before.body["revision"], after.body["revision"]);
    let files = after.body["files"].as_array().unwrap();
    let roles = files.iter().find(|f| f["path"] == "db:roles").unwrap();
    assert_eq!(
        strings(&roles["policy_ids"]),
        ["role:acme:dev:billing.read", "role:acme:dev:workspace.read"]
    );
    assert!(
        t.allowed("nick", "workspace.read", workspace("ws2"), json!({}))
            .await
    );

    std::fs::write(
        t.policies_dir().join("freeze.cedar"),
        "@id(\"freeze-billing\")\nforbid (principal, action == Action::\"billing.read\", resource);\n",
    )
    .unwrap();
    t.app.authz.reload().unwrap();
    let resp = t
        .decide("nick", "billing.read", org("acme"), json!({}))
        .await
        .expect(200);
    assert_eq!(resp.body["decision"], "Deny");
    assert_eq!(resp.body["reasons"], json!(["freeze-billing"]));
    // The reload kept the database's roles.
    assert!(
        t.allowed("nick", "workspace.read", workspace("ws2"), json!({}))
            .await
    );
    let listed = t.get("/v1/policies", None).await.expect(200);
    assert!(listed.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "db:roles"));
}

#[tokio::test]
async fn every_role_change_is_audited() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "dev", &["billing.read"])
        .await
        .expect(201);
    t.patch(
        "/v1/orgs/acme/roles/dev",
        Some("olive"),
        json!({"name": "Devs", "permissions": ["audit.read"]}),
    )
    .await
    .expect(200);
    t.delete("/v1/orgs/acme/roles/dev", Some("olive"))
        .await
        .expect(204);
    let log = t
        .get("/v1/orgs/acme/audit", Some("olive"))
        .await
        .expect(200);
    let items = log.body["items"].as_array().unwrap();
    let of = |action: &str| {
        items
            .iter()
            .find(|e| e["action"] == action)
            .unwrap()
            .clone()
    };
    let create = of("role.create");
    assert_eq!(create["target"], "Role::dev");
    assert_eq!(create["actor"], "olive");
    assert_eq!(create["details"]["permissions"], json!(["billing.read"]));
    let update = of("role.update");
    assert_eq!(
        update["details"]["name"],
        json!({"from": "Role dev", "to": "Devs"})
    );
    assert_eq!(
        update["details"]["permissions"],
        json!({"added": ["audit.read"], "removed": ["billing.read"]})
    );
    assert_eq!(of("role.delete")["details"]["name"], "Devs");
}

#[tokio::test]
async fn roles_survive_a_restart_and_the_check_command_sees_them() {
    let t = seeded().await;
    create_role(&t, Some("olive"), "dev", &["billing.read"])
        .await
        .expect(201);
    set_role(&t, "olive", "nick", "dev").await.expect(200);
    let again = tenantgate::app::App::open(t.app.settings.clone()).unwrap();
    let snapshot = again.snapshot.load();
    let decision = again
        .authz
        .decide(
            &snapshot,
            &serde_json::from_value(json!({
                "principal": "User::\"nick\"", "action": "Action::\"billing.read\"",
                "resource": "Organization::\"acme\""}))
            .unwrap(),
        )
        .unwrap();
    assert!(decision.allowed());

    let dir = t.dir.path();
    let url = t.app.settings.database_url.clone();
    let mut args = vec![
        "check",
        "--principal",
        "User::\"nick\"",
        "--action",
        "billing.read",
        "--resource",
        "Organization::\"acme\"",
        "--data-dir",
        "data",
        "--policies",
        "policies",
        "--schema",
        "schema",
    ];
    if let Some(url) = &url {
        args.extend(["--database-url", url.as_str()]);
    }
    let out = tenantgate_cli(dir, &args);
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("decision: Allow"), "{text}");
    assert!(
        text.contains("role:acme:dev:billing.read  db:roles"),
        "{text}"
    );
}

#[test]
fn policy_tests_declare_custom_roles_in_their_fixture() {
    let dir = workdir();
    let tests = dir.path().join("policies/tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(
        tests.join("roles.yaml"),
        r#"
fixture:
  orgs:
    acme:
      roles: { dev: [billing.read] }
      members: { olive: owner, dana: dev }
cases:
  - name: a custom role grants its permission
    principal: dana
    action: billing.read
    resource: Organization::"acme"
    expect: allow
    reasons: ["role:acme:dev:billing.read"]
  - name: and nothing else
    principal: dana
    action: billing.update
    resource: Organization::"acme"
    expect: deny
"#,
    )
    .unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "test"]);
    let text = stdout_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.trim_end().ends_with("0 failed"), "{text}");

    // A member holding an undeclared role is a broken fixture.
    std::fs::write(
        tests.join("roles.yaml"),
        "fixture:\n  orgs:\n    acme:\n      members: { dana: ghost }\ncases: []\n",
    )
    .unwrap();
    let out = tenantgate_cli(dir.path(), &["policy", "test"]);
    assert!(!out.status.success());
}
