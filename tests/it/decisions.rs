//! `POST /v1/is_authorized` and `/batch`: uid forms, schema validation,
//! host entities, reserved types, evaluation errors, batches.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn string_and_object_uids_give_the_same_answer() {
    let t = TestApp::new();
    t.seed_acme().await;
    let object = t
        .decide("adam", "org.update", org("acme"), json!({}))
        .await
        .expect(200);
    let string = t
        .post(
            "/v1/is_authorized",
            None,
            json!({"principal": "User::\"adam\"", "action": "Action::\"org.update\"", "resource": "Organization::\"acme\""}),
        )
        .await
        .expect(200);
    assert_eq!(object.body, string.body);
    assert_eq!(object.body["decision"], "Allow");
    assert!(object.body["policy_revision"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(object.body["data_revision"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn requests_outside_the_schema_are_invalid_request() {
    let t = TestApp::new();
    t.seed_acme().await;
    // Unknown action, wrong resource type for the action, a context field
    // the schema does not declare, a context field of the wrong type.
    t.decide("adam", "no.such", org("acme"), json!({}))
        .await
        .expect_error(400, "invalid_request");
    t.decide("adam", "org.update", workspace("ws1"), json!({}))
        .await
        .expect_error(400, "invalid_request");
    t.decide(
        "adam",
        "member.invite",
        org("acme"),
        json!({"rank": "owner"}),
    )
    .await
    .expect_error(400, "invalid_request");
    t.decide("adam", "member.invite", org("acme"), json!({"role": 7}))
        .await
        .expect_error(400, "invalid_request");
    t.post("/v1/is_authorized", None, json!({"principal": "nonsense", "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""}))
        .await
        .expect_error(400, "invalid_request");
    t.post("/v1/is_authorized", None, json!({"principal": 5, "action": "Action::\"org.read\"", "resource": "Organization::\"acme\""}))
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn sidecar_owned_entities_cannot_be_supplied() {
    let t = TestApp::new();
    t.seed_acme().await;
    let claim = |entities: serde_json::Value| {
        json!({
            "principal": {"type": "User", "id": "mia"},
            "action": {"type": "Action", "id": "org.delete"},
            "resource": {"type": "Organization", "id": "acme"},
            "entities": entities,
        })
    };
    let attempts = [
        json!([{"uid": {"type": "User", "id": "mia"}, "attrs": {}, "parents": [{"type": "Role", "id": "acme#owner"}]}]),
        json!([{"uid": {"type": "Role", "id": "acme#member"}, "attrs": {}, "parents": [{"type": "Role", "id": "acme#owner"}]}]),
        json!([{"uid": {"type": "Organization", "id": "acme"}, "attrs": {}, "parents": []}]),
        json!([{"uid": {"type": "Workspace", "id": "ws9"}, "attrs": {}, "parents": []}]),
        json!([{"uid": {"__entity": {"type": "User", "id": "mia"}}, "attrs": {}, "parents": []}]),
    ];
    for entities in attempts {
        t.post("/v1/is_authorized", None, claim(entities.clone()))
            .await
            .expect_error(400, "reserved_entity_type");
    }
    assert!(!t.allowed("mia", "org.delete", org("acme"), json!({})).await);
}

#[tokio::test]
async fn host_entities_cannot_join_role_groups() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    let body = json!({
        "principal": {"type": "User", "id": "nick"},
        "action": {"type": "Action", "id": "document.read"},
        "resource": {"type": "Document", "id": "d1"},
        "entities": [{"uid": {"type": "Document", "id": "d1"},
                      "attrs": {"workspace": {"type": "Workspace", "id": "ws1"}},
                      "parents": [{"type": "Role", "id": "acme/ws1#member"}]}],
    });
    t.post("/v1/is_authorized", None, body)
        .await
        .expect_error(400, "reserved_entity_type");
}

#[tokio::test]
async fn host_resources_reach_roles_through_their_workspace() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    let doc = |ws: &str| {
        json!([{"uid": {"type": "Document", "id": "d1"},
                "attrs": {"workspace": {"type": "Workspace", "id": ws}},
                "parents": [{"type": "Workspace", "id": ws}]}])
    };
    let ask = |user: &str, ws: &str| {
        json!({
            "principal": {"type": "User", "id": user},
            "action": {"type": "Action", "id": "document.read"},
            "resource": {"type": "Document", "id": "d1"},
            "entities": doc(ws),
        })
    };
    let allow = t
        .post("/v1/is_authorized", None, ask("mia", "ws1"))
        .await
        .expect(200);
    assert_eq!(allow.body["decision"], "Allow");
    assert_eq!(
        allow.body["reasons"],
        json!(["workspace-members-read-documents"])
    );
    let deny = t
        .post("/v1/is_authorized", None, ask("mia", "ws2"))
        .await
        .expect(200);
    assert_eq!(deny.body["decision"], "Deny");
    // A host entity whose attributes do not match the schema is refused.
    let bad = json!({
        "principal": {"type": "User", "id": "mia"},
        "action": {"type": "Action", "id": "document.read"},
        "resource": {"type": "Document", "id": "d1"},
        "entities": [{"uid": {"type": "Document", "id": "d1"}, "attrs": {"workspace": "ws1"}, "parents": []}],
    });
    t.post("/v1/is_authorized", None, bad)
        .await
        .expect_error(400, "invalid_request");
}

#[tokio::test]
async fn evaluation_errors_deny_and_are_reported() {
    let t = TestApp::builder().with_host_resources().build();
    t.seed_acme().await;
    // A document naming a workspace that does not exist: the policy cannot
    // read `resource.workspace.members`, so it errors, and the answer is Deny.
    let body = json!({
        "principal": {"type": "User", "id": "mia"},
        "action": {"type": "Action", "id": "document.read"},
        "resource": {"type": "Document", "id": "d1"},
        "entities": [{"uid": {"type": "Document", "id": "d1"},
                      "attrs": {"workspace": {"type": "Workspace", "id": "gone"}},
                      "parents": []}],
    });
    let resp = t.post("/v1/is_authorized", None, body).await.expect(200);
    assert_eq!(resp.body["decision"], "Deny");
    let errors = resp.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{:#}", resp.body);
    assert_eq!(errors[0]["policy"], "workspace-members-read-documents");
    assert!(!errors[0]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn batches_answer_in_order_and_fail_whole() {
    let t = TestApp::new();
    t.seed_acme().await;
    let item = |user: &str, action: &str| {
        json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": action},
               "resource": {"type": "Organization", "id": "acme"}})
    };
    let resp = t
        .post(
            "/v1/is_authorized/batch",
            None,
            json!({"requests": [item("olive", "org.delete"), item("mia", "org.delete"), item("carl", "billing.update")]}),
        )
        .await
        .expect(200);
    let decisions: Vec<&str> = resp.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["Allow", "Deny", "Allow"]);

    let bad = t
        .post(
            "/v1/is_authorized/batch",
            None,
            json!({"requests": [item("olive", "org.delete"), item("mia", "no.such")]}),
        )
        .await
        .expect_error(400, "invalid_request");
    assert!(
        bad.body["detail"].as_str().unwrap().contains("request 1"),
        "{:#}",
        bad.body
    );

    t.post("/v1/is_authorized/batch", None, json!({"requests": []}))
        .await
        .expect_error(400, "invalid_request");
    let too_many: Vec<_> = (0..101).map(|_| item("mia", "org.read")).collect();
    t.post(
        "/v1/is_authorized/batch",
        None,
        json!({"requests": too_many}),
    )
    .await
    .expect_error(400, "invalid_request");
    let hundred: Vec<_> = (0..100).map(|_| item("mia", "org.read")).collect();
    let ok = t
        .post(
            "/v1/is_authorized/batch",
            None,
            json!({"requests": hundred}),
        )
        .await
        .expect(200);
    assert_eq!(ok.body["results"].as_array().unwrap().len(), 100);
    // Items carry no entities of their own.
    let mut with_entities = item("mia", "org.read");
    with_entities["entities"] = json!([]);
    t.post(
        "/v1/is_authorized/batch",
        None,
        json!({"requests": [with_entities]}),
    )
    .await
    .expect_error(400, "invalid_request");
}

/// An organization that does not exist is absent, as in the database: a
/// policy reading it fails, and the answer is a Deny naming the failure
/// (never an empty organization a negated condition could be true of).
#[tokio::test]
async fn unknown_organizations_deny_with_the_evaluation_error() {
    let t = TestApp::new();
    t.seed_acme().await;
    let resp = t
        .decide("olive", "org.read", org("nope"), json!({}))
        .await
        .expect(200);
    assert_eq!(resp.body["decision"], "Deny");
    assert_eq!(resp.body["reasons"], json!([]));
    assert_eq!(resp.body["errors"][0]["policy"], "members-read-org");
    assert!(resp.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
}
