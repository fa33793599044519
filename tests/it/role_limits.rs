//! Custom-role grants across tenants: one limit on the grants of all
//! organizations together, and a role change in one organization that
//! leaves the others' generated policies as they were, the served set
//! always equal to one built from scratch.

use serde_json::{json, Value};
use tenantgate::authz::Authz;

use crate::support::*;

async fn create_role(t: &TestApp, org: &str, key: &str, permissions: &[&str]) -> Resp {
    t.post(
        &format!("/v1/orgs/{org}/roles"),
        None,
        json!({"key": key, "name": format!("Role {key}"), "permissions": permissions}),
    )
    .await
}

async fn set_permissions(t: &TestApp, org: &str, key: &str, permissions: &[&str]) -> Resp {
    t.patch(
        &format!("/v1/orgs/{org}/roles/{key}"),
        None,
        json!({"permissions": permissions}),
    )
    .await
}

/// The revision and the generated policy ids `GET /v1/policies` serves.
async fn served(t: &TestApp) -> (String, Vec<String>) {
    let body = t.get("/v1/policies", None).await.expect(200).body;
    policy_ids(&body)
}

fn policy_ids(body: &Value) -> (String, Vec<String>) {
    let ids = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] == "db:roles")
        .flat_map(|f| f["policy_ids"].as_array().unwrap().clone())
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    (body["revision"].as_str().unwrap().to_owned(), ids)
}

/// The same, from a decision point built now from the files and the
/// database's roles, as at start.
fn from_scratch(t: &TestApp) -> (String, Vec<String>) {
    let authz = Authz::load(&t.app.settings.policies, &t.app.settings.schema).unwrap();
    authz
        .set_all_roles(tenantgate::store::role_map(&t.app.store).unwrap())
        .unwrap();
    policy_ids(&serde_json::to_value(authz.info()).unwrap())
}

#[tokio::test]
async fn custom_role_grants_are_bounded_across_organizations() {
    let t = TestApp::builder()
        .with_settings(|s| s.max_custom_role_grants = 5)
        .build();
    t.create_org("acme", "olive").await;
    t.create_org("globex", "gina").await;
    create_role(
        &t,
        "acme",
        "dev",
        &["billing.read", "workspace.create", "invoice.read"],
    )
    .await
    .expect(201);
    create_role(&t, "globex", "ops", &["billing.read", "invoice.read"])
        .await
        .expect(201);

    // Five grants in all: one more is refused, in either organization.
    let refused = create_role(&t, "globex", "more", &["workspace.create"])
        .await
        .expect_error(400, "invalid_request");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("at most 5 grants"), "{detail}");
    assert!(detail.contains("would make 6"), "{detail}");
    set_permissions(
        &t,
        "acme",
        "dev",
        &[
            "billing.read",
            "workspace.create",
            "invoice.read",
            "billing.update",
        ],
    )
    .await
    .expect_error(400, "invalid_request");
    // Nothing of a refused change is stored or served.
    t.get("/v1/orgs/globex/roles/more", None)
        .await
        .expect_error(404, "not_found");
    assert_eq!(served(&t).await.1.len(), 5);

    // A role without permissions adds no grant; trimming and deleting
    // always pass, and free room for others.
    create_role(&t, "globex", "empty", &[]).await.expect(201);
    set_permissions(&t, "acme", "dev", &["billing.read"])
        .await
        .expect(200);
    create_role(
        &t,
        "globex",
        "more",
        &["workspace.create", "billing.update"],
    )
    .await
    .expect(201);
    t.delete("/v1/orgs/globex/roles/ops", None)
        .await
        .expect(204);
    create_role(&t, "acme", "two", &["invoice.read", "workspace.create"])
        .await
        .expect(201);
    assert_eq!(served(&t).await.1.len(), 5);
}

/// Whether `gus` of globex may read its billing, and why.
async fn gus_reads(t: &TestApp) -> Value {
    t.decide("gus", "billing.read", org("globex"), json!({}))
        .await
        .expect(200)
        .body
}

#[tokio::test]
async fn a_role_change_in_one_org_keeps_the_others_and_equals_a_fresh_build() {
    let t = TestApp::new();
    t.seed_acme().await;
    t.create_org("globex", "gina").await;
    t.add_member("globex", "gus", "member").await;
    create_role(&t, "globex", "biller", &["billing.read"])
        .await
        .expect(201);
    t.patch(
        "/v1/orgs/globex/members/gus",
        None,
        json!({"role": "biller"}),
    )
    .await
    .expect(200);
    let before = gus_reads(&t).await;
    assert_eq!(before["decision"], "Allow", "{before}");
    assert!(
        before["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "role:globex:biller:billing.read"),
        "{before}"
    );

    // Many changes in acme, with a file reload in between.
    for i in 0..12 {
        let key = format!("r{i}");
        create_role(&t, "acme", &key, &["billing.read", "invoice.read"])
            .await
            .expect(201);
        if i % 3 == 1 {
            set_permissions(&t, "acme", &key, &["workspace.create"])
                .await
                .expect(200);
        }
        if i % 4 == 2 {
            t.delete(&format!("/v1/orgs/acme/roles/{key}"), None)
                .await
                .expect(204);
        }
        if i == 6 {
            std::fs::write(
                t.policies_dir().join("extra.cedar"),
                "@id(\"extra-forbid\")\nforbid (principal, action == Action::\"billing.update\", resource) when { false };\n",
            )
            .unwrap();
            t.app.authz.reload().unwrap();
        }
        assert_eq!(served(&t).await, from_scratch(&t), "after change {i}");
        let now = gus_reads(&t).await;
        assert_eq!(
            now["decision"], before["decision"],
            "after change {i}: {now}"
        );
        assert_eq!(now["reasons"], before["reasons"], "after change {i}: {now}");
    }
    let (_, ids) = served(&t).await;
    assert!(ids.iter().any(|id| id == "role:globex:biller:billing.read"));
    assert!(ids.iter().any(|id| id == "role:acme:r1:workspace.create"));
    assert!(!ids.iter().any(|id| id.starts_with("role:acme:r2:")));
    // Deleting an organization takes its grants along and nothing else.
    t.delete("/v1/orgs/acme", None).await.expect(204);
    let (_, ids) = served(&t).await;
    assert_eq!(ids, ["role:globex:biller:billing.read"]);
    assert_eq!(served(&t).await, from_scratch(&t));
    assert_eq!(gus_reads(&t).await["decision"], "Allow");
}
