//! Taking a role away needs the rights that granting it needs: removing or
//! demoting a custom role's holder, cutting a role's permissions, deleting
//! it, resending or revoking an invite with it. Invitations do not outlive
//! their sender's right to send them. An owner holds every grantable
//! permission of their organization.

use serde_json::{json, Value};

use crate::support::*;

async fn role(t: &TestApp, actor: &str, key: &str, permissions: &[&str]) -> Resp {
    t.post(
        "/v1/orgs/acme/roles",
        Some(actor),
        json!({"key": key, "name": format!("Role {key}"), "permissions": permissions}),
    )
    .await
}

async fn set_role(t: &TestApp, actor: &str, user: &str, role: &str) -> Resp {
    t.patch(
        &format!("/v1/orgs/acme/members/{user}"),
        Some(actor),
        json!({"role": role}),
    )
    .await
}

async fn invite(t: &TestApp, actor: &str, email: &str, role: &str) -> Value {
    let body = json!({"invites": [{"email": email, "role": role}], "send_email": false});
    let resp = t
        .post("/v1/orgs/acme/invites", Some(actor), body)
        .await
        .expect(201);
    resp.body["invites"][0].clone()
}

async fn accept(t: &TestApp, token: &Value, user: &str, email: &str) -> Resp {
    t.post(
        "/v1/invites/accept",
        None,
        json!({"token": token, "user": {"id": user, "email": email}}),
    )
    .await
}

fn detail(resp: &Resp) -> &str {
    resp.body["detail"].as_str().unwrap()
}

/// acme, plus `fin` (billing, invoices; defined by the owner) held by fred
/// and `hr` (member management and role.manage; defined by the admin) held
/// by hank.
async fn with_hr_and_fin() -> TestApp {
    let t = TestApp::new();
    t.seed_acme().await;
    role(
        &t,
        "olive",
        "fin",
        &["billing.update", "invoice.read", "invoice.update"],
    )
    .await
    .expect(201);
    role(
        &t,
        "adam",
        "hr",
        &[
            "member.add",
            "member.remove",
            "member.update_role",
            "member.invite",
            "role.manage",
        ],
    )
    .await
    .expect(201);
    t.add_member("acme", "fred", "fin").await;
    t.add_member("acme", "hank", "hr").await;
    t
}

#[tokio::test]
async fn a_custom_role_holder_takes_away_no_role_they_could_not_grant() {
    let t = with_hr_and_fin().await;
    // hank holds member management but not billing: fred's role is out of
    // his reach in every direction.
    t.delete("/v1/orgs/acme/members/fred", Some("hank"))
        .await
        .expect_error(403, "forbidden");
    set_role(&t, "hank", "fred", "member")
        .await
        .expect_error(403, "forbidden");
    t.patch(
        "/v1/orgs/acme/roles/fin",
        Some("hank"),
        json!({"permissions": ["member.add"]}),
    )
    .await
    .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme/roles/fin", Some("hank"))
        .await
        .expect_error(403, "forbidden");
    // fred still holds billing.
    assert!(
        t.allowed("fred", "billing.update", org("acme"), json!({}))
            .await
    );
    let fin = t
        .get("/v1/orgs/acme/roles/fin", Some("olive"))
        .await
        .expect(200);
    assert_eq!(fin.body["permissions"].as_array().unwrap().len(), 3);
    // Plain members are still his to manage.
    t.delete("/v1/orgs/acme/members/nick", Some("hank"))
        .await
        .expect(204);
}

#[tokio::test]
async fn an_admin_takes_away_no_custom_role_with_permissions_they_lack() {
    let t = with_hr_and_fin().await;
    // Admins lack billing.update: they may not take `fin` away either.
    let removed = t
        .delete("/v1/orgs/acme/members/fred", Some("adam"))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        detail(&removed),
        "user `adam` may not take away role `fin` in `acme`: the role carries the permissions `billing.update`, `invoice.read`, `invoice.update`, and they do not hold them"
    );
    set_role(&t, "adam", "fred", "member")
        .await
        .expect_error(403, "forbidden");
    // Cutting a permission takes it from every holder.
    let cut = t
        .patch(
            "/v1/orgs/acme/roles/fin",
            Some("adam"),
            json!({"permissions": ["invoice.read"]}),
        )
        .await
        .expect_error(403, "forbidden");
    assert!(
        detail(&cut).contains("`billing.update`"),
        "{}",
        detail(&cut)
    );
    // A role the admin could grant, the admin may take away.
    role(&t, "adam", "viewer", &["billing.read"])
        .await
        .expect(201);
    t.add_member("acme", "vic", "viewer").await;
    set_role(&t, "adam", "vic", "member").await.expect(200);
    t.delete("/v1/orgs/acme/members/hank", Some("adam"))
        .await
        .expect(204);
    // The owner may do it all.
    set_role(&t, "olive", "fred", "member").await.expect(200);
    t.delete("/v1/orgs/acme/roles/fin", Some("adam"))
        .await
        .expect_error(403, "forbidden");
    t.delete("/v1/orgs/acme/roles/fin", Some("olive"))
        .await
        .expect(204);
}

#[tokio::test]
async fn the_default_policies_let_only_owners_and_admins_grant_custom_roles() {
    let t = with_hr_and_fin().await;
    role(&t, "olive", "helper", &[]).await.expect(201);
    // hank holds every permission `helper` carries (none), yet the default
    // policies keep custom roles, like admin and accounting, to admins.
    let add = t
        .put(
            "/v1/orgs/acme/members/bea",
            Some("hank"),
            json!({"email": "bea@x.io", "role": "helper"}),
        )
        .await
        .expect_error(403, "forbidden");
    assert!(detail(&add).contains("member.add"), "{}", detail(&add));
    t.put(
        "/v1/orgs/acme/members/bea",
        Some("hank"),
        json!({"email": "bea@x.io", "role": "member"}),
    )
    .await
    .expect(201);
    set_role(&t, "hank", "bea", "helper")
        .await
        .expect_error(403, "forbidden");
    set_role(&t, "adam", "bea", "helper").await.expect(200);
    set_role(&t, "hank", "bea", "member")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn owner_invites_are_resent_and_revoked_by_owners_only() {
    let t = with_hr_and_fin().await;
    role(&t, "olive", "desk", &["invite.resend", "invite.revoke"])
        .await
        .expect(201);
    t.add_member("acme", "dina", "desk").await;
    let owner_invite = invite(&t, "olive", "next-owner@x.io", "owner").await;
    let admin_invite = invite(&t, "olive", "next-admin@x.io", "admin").await;
    let member_invite = invite(&t, "olive", "next-member@x.io", "member").await;
    let path = |inv: &Value| format!("/v1/orgs/acme/invites/{}", inv["id"].as_str().unwrap());
    for actor in ["adam", "dina"] {
        t.post(
            &format!("{}/resend", path(&owner_invite)),
            Some(actor),
            json!({}),
        )
        .await
        .expect_error(403, "forbidden");
        t.delete(&path(&owner_invite), Some(actor))
            .await
            .expect_error(403, "forbidden");
    }
    // dina handles member invites, not admin ones; adam handles both.
    t.post(
        &format!("{}/resend", path(&admin_invite)),
        Some("dina"),
        json!({}),
    )
    .await
    .expect_error(403, "forbidden");
    t.post(
        &format!("{}/resend", path(&member_invite)),
        Some("dina"),
        json!({}),
    )
    .await
    .expect(200);
    t.delete(&path(&admin_invite), Some("adam"))
        .await
        .expect(200);
    // The owner invitation still works with its first link.
    let resent = t
        .post(
            &format!("{}/resend", path(&owner_invite)),
            Some("olive"),
            json!({}),
        )
        .await
        .expect(200);
    accept(&t, &resent.body["token"], "nora", "next-owner@x.io")
        .await
        .expect(200);
}

#[tokio::test]
async fn a_removed_members_pending_invites_are_revoked() {
    let t = TestApp::new();
    t.seed_acme().await;
    let sent = invite(&t, "adam", "adam2@x.io", "admin").await;
    let other = invite(&t, "olive", "someone@x.io", "admin").await;
    t.delete("/v1/orgs/acme/members/adam", Some("olive"))
        .await
        .expect(204);
    let id = sent["id"].as_str().unwrap();
    let now = t
        .get(&format!("/v1/orgs/acme/invites/{id}"), Some("olive"))
        .await
        .expect(200);
    assert_eq!(now.body["status"], "revoked");
    accept(&t, &sent["token"], "adam2", "adam2@x.io")
        .await
        .expect_error(404, "invite_not_found");
    // The revocation is audited, in the name of whoever removed him.
    let audit = t
        .get("/v1/orgs/acme/audit", Some("olive"))
        .await
        .expect(200);
    let revoke = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "invite.revoke")
        .expect("an invite.revoke audit row");
    assert_eq!(revoke["actor"], "olive");
    assert_eq!(revoke["target"], format!("Invite::{id}"));
    assert_eq!(revoke["details"]["reason"], "inviter_left");
    // Others' invites are untouched.
    accept(&t, &other["token"], "sam", "someone@x.io")
        .await
        .expect(200);
}

#[tokio::test]
async fn accepting_rechecks_that_the_sender_may_still_grant_the_role() {
    let t = TestApp::new();
    t.seed_acme().await;
    let sent = invite(&t, "adam", "adam2@x.io", "admin").await;
    set_role(&t, "olive", "adam", "member").await.expect(200);
    let refused = accept(&t, &sent["token"], "adam2", "adam2@x.io")
        .await
        .expect_error(403, "forbidden");
    assert!(detail(&refused).contains("`adam`"), "{}", detail(&refused));
    assert!(!t.allowed("adam2", "org.read", org("acme"), json!({})).await);
    // The invite stays pending: once adam may grant it again, it works.
    set_role(&t, "olive", "adam", "admin").await.expect(200);
    accept(&t, &sent["token"], "adam2", "adam2@x.io")
        .await
        .expect(200);
    // An invitation from a system call needs no sender's right.
    let system = t
        .post(
            "/v1/orgs/acme/invites",
            None,
            json!({"invites": [{"email": "root@x.io", "role": "owner"}], "send_email": false}),
        )
        .await
        .expect(201);
    accept(&t, &system.body["invites"][0]["token"], "root", "root@x.io")
        .await
        .expect(200);
}

const EXPORT_SCHEMA: &str = r#"
@grantable("Export reports")
action "report.export" appliesTo { principal: User, resource: Organization };
"#;

#[tokio::test]
async fn an_owner_holds_every_grantable_permission() {
    let t = Builder::default()
        .with_schema_file("reports.cedarschema", EXPORT_SCHEMA)
        .build();
    t.seed_acme().await;
    // No policy names report.export: before any role, nobody holds it.
    assert!(
        !t.allowed("olive", "report.export", org("acme"), json!({}))
            .await
    );
    let denied = role(&t, "adam", "exporter", &["report.export"])
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        detail(&denied),
        "user `adam` may not define role `exporter` in `acme`: the role carries the permission `report.export`, and they do not hold it"
    );
    role(&t, "olive", "exporter", &["report.export"])
        .await
        .expect(201);
    t.add_member("acme", "rex", "exporter").await;
    assert!(
        t.allowed("rex", "report.export", org("acme"), json!({}))
            .await
    );
    set_role(&t, "olive", "mia", "exporter").await.expect(200);
    assert!(
        t.allowed("mia", "report.export", org("acme"), json!({}))
            .await
    );
}
