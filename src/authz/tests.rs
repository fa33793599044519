use super::*;
use crate::model::{OrgAccess, OrgRole, WorkspaceAccess, WorkspaceRole};
use serde_json::json;

fn repo_authz() -> Authz {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Authz::load(&root.join("policies"), &root.join("schema")).unwrap()
}

fn snapshot() -> Snapshot {
    Snapshot::build(
        vec![OrgAccess {
            org_id: "acme".into(),
            members: vec![
                ("olive".into(), OrgRole::Owner.into()),
                ("adam".into(), OrgRole::Admin.into()),
                ("carl".into(), OrgRole::Accounting.into()),
                ("mia".into(), OrgRole::Member.into()),
            ],
            workspaces: vec![WorkspaceAccess {
                workspace_id: "ws1".into(),
                members: vec![("mia".into(), WorkspaceRole::Member)],
            }],
        }],
        7,
    )
}

fn ask(authz: &Authz, snap: &Snapshot, body: Value) -> Result<Decision, RequestError> {
    let req: DecisionRequest = serde_json::from_value(body).unwrap();
    authz.decide(snap, &req)
}

#[test]
fn default_set_loads_and_names_its_policies() {
    let authz = repo_authz();
    let info = authz.info();
    assert!(info.revision.starts_with("sha256:"));
    let ids: Vec<&String> = info.files.iter().flat_map(|f| &f.policy_ids).collect();
    assert!(
        ids.iter().any(|id| *id == "only-owners-grant-owner"),
        "{ids:?}"
    );
}

#[test]
fn decisions_follow_roles_and_name_their_reasons() {
    let authz = repo_authz();
    let snap = snapshot();
    let allow = ask(
        &authz,
        &snap,
        json!({"principal": {"type": "User", "id": "carl"}, "action": {"type": "Action", "id": "invoice.read"},
               "resource": {"type": "Workspace", "id": "ws1"}}),
    )
    .unwrap();
    assert!(allow.allowed(), "{allow:?}");
    assert_eq!(
        allow.reasons,
        vec!["owners-and-accounting-manage-workspace-billing"]
    );
    assert_eq!(allow.data_revision, 7);

    let deny = ask(
        &authz,
        &snap,
        json!({"principal": "User::\"mia\"", "action": "Action::\"invoice.read\"", "resource": "Workspace::\"ws1\""}),
    )
    .unwrap();
    assert!(!deny.allowed());
    assert!(deny.reasons.is_empty());
}

#[test]
fn management_checks_carry_the_granted_role() {
    let authz = repo_authz();
    let snap = snapshot();
    let grant = |actor, role| {
        authz
            .check(
                &snap,
                actor,
                "member.invite",
                Target::Org("acme"),
                &[("role", role)],
            )
            .allowed()
    };
    assert!(grant("olive", "owner"));
    assert!(grant("adam", "admin"));
    assert!(!grant("adam", "owner"));
    assert!(!grant("carl", "member"));
    assert!(!grant("stranger", "member"));
}

#[test]
fn requests_cannot_supply_sidecar_entities() {
    let authz = repo_authz();
    let snap = snapshot();
    let err = ask(
        &authz,
        &snap,
        json!({"principal": {"type": "User", "id": "mia"}, "action": {"type": "Action", "id": "org.delete"},
               "resource": {"type": "Organization", "id": "acme"},
               "entities": [{"uid": {"type": "User", "id": "mia"}, "attrs": {}, "parents": [{"type": "Role", "id": "acme#owner"}]}]}),
    )
    .unwrap_err();
    assert!(err.is_reserved(), "{err}");
}

#[test]
fn requests_outside_the_schema_are_invalid() {
    let authz = repo_authz();
    let snap = snapshot();
    let err = ask(
        &authz,
        &snap,
        json!({"principal": {"type": "User", "id": "mia"}, "action": {"type": "Action", "id": "no.such"},
               "resource": {"type": "Organization", "id": "acme"}}),
    )
    .unwrap_err();
    assert!(matches!(err, RequestError::Invalid(_)), "{err}");
}

#[test]
fn invalid_text_is_reported_with_its_location() {
    let authz = repo_authz();
    let report = authz.validate_text("permit(principal, action == Action::\"nope\", resource);");
    assert!(!report.valid);
    assert_eq!(report.errors[0].line, Some(1));
    let report =
        authz.validate_text("permit(principal,\n action, resource) when { principal.nope };");
    assert!(!report.valid, "{report:?}");
    let ok = authz
        .validate_text("@id(\"x\") permit(principal, action == Action::\"org.read\", resource);");
    assert!(ok.valid, "{ok:?}");
}

/// The per-action policy index must never drop a policy that applies:
/// unconstrained scopes and action groups included.
#[test]
fn policies_by_action_keep_groups_and_unconstrained_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (policies, schema) = (dir.path().join("p"), dir.path().join("s"));
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(&schema).unwrap();
    std::fs::copy(
        root.join("schema/tenantgate.cedarschema"),
        schema.join("t.cedarschema"),
    )
    .unwrap();
    std::fs::write(
        schema.join("host.cedarschema"),
        "action \"reading\";\naction \"doc.view\" in [\"reading\"] appliesTo { principal: User, resource: Organization };\n",
    )
    .unwrap();
    std::fs::write(
        policies.join("p.cedar"),
        "@id(\"group\") permit (principal, action in Action::\"reading\", resource is Organization) when { principal in resource.members };\n\
         @id(\"any\") forbid (principal, action, resource) when { principal == User::\"banned\" };\n",
    )
    .unwrap();
    let authz = Authz::load(&policies, &schema).unwrap();
    let snap = snapshot();
    let ask = |user: &str| {
        ask(
            &authz,
            &snap,
            json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "doc.view"},
                   "resource": {"type": "Organization", "id": "acme"}}),
        )
        .unwrap()
    };
    let mia = ask("mia");
    assert!(mia.allowed(), "{mia:?}");
    assert_eq!(mia.reasons, vec!["group"]);
    let banned = ask("banned");
    assert!(!banned.allowed());
    // the org.read action is not in the group: only the unconstrained forbid applies
    let other = authz.check(&snap, "banned", "org.read", Target::Org("acme"), &[]);
    assert_eq!(other.reasons, vec!["any"]);
}
