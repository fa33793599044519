use super::*;
use crate::model::{OrgAccess, OrgRole, RoleKey, WorkspaceAccess, WorkspaceRole};
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
            ..OrgAccess::default()
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

/// The request's entities reach their ancestors through each other and
/// through the sidecar's entities (a document in a folder in a workspace is
/// in the workspace's organization), and a cycle among them is refused.
#[test]
fn host_entities_reach_every_ancestor_and_cycles_are_refused() {
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
        "entity Folder in [Folder, Workspace];\nentity Doc in [Folder];\n\
         action \"doc.view\" appliesTo { principal: User, resource: Doc };\n",
    )
    .unwrap();
    std::fs::write(
        policies.join("p.cedar"),
        "@id(\"in-acme\") permit (principal, action == Action::\"doc.view\", resource) when { resource in Organization::\"acme\" };\n",
    )
    .unwrap();
    let authz = Authz::load(&policies, &schema).unwrap();
    let snap = snapshot();
    let view = |entities: Value| {
        ask(
            &authz,
            &snap,
            json!({"principal": {"type": "User", "id": "mia"}, "action": {"type": "Action", "id": "doc.view"},
                   "resource": {"type": "Doc", "id": "d1"}, "entities": entities}),
        )
    };
    let folder = |id: &str, parents: Value| json!({"uid": {"type": "Folder", "id": id}, "attrs": {}, "parents": parents});
    let doc = json!({"uid": {"type": "Doc", "id": "d1"}, "attrs": {}, "parents": [{"type": "Folder", "id": "f1"}]});

    // Listed before or after the folders that lead to the workspace.
    let nested = json!([
        doc.clone(),
        folder("f1", json!([{"type": "Folder", "id": "f2"}])),
        folder("f2", json!([{"type": "Workspace", "id": "ws1"}])),
    ]);
    // Twice: the second time from what was parsed the first.
    for _ in 0..2 {
        let allowed = view(nested.clone()).unwrap();
        assert!(allowed.allowed(), "{allowed:?}");
        assert_eq!(allowed.reasons, vec!["in-acme"]);
    }

    let elsewhere = view(json!([doc.clone(), folder("f1", json!([]))])).unwrap();
    assert!(!elsewhere.allowed(), "{elsewhere:?}");

    let cycle = json!([
        doc,
        folder("f1", json!([{"type": "Folder", "id": "f2"}])),
        folder("f2", json!([{"type": "Folder", "id": "f1"}])),
    ]);
    let err = view(cycle).unwrap_err();
    assert!(matches!(err, RequestError::Invalid(_)), "{err}");
}

/// Cached entities never outlive the data they were built from: a role
/// change, or a workspace id reused in another organization, shows in the
/// very next decision on the new snapshot.
#[test]
fn cached_entities_follow_the_snapshot() {
    let authz = repo_authz();
    let before = snapshot();
    let update = |snap: &Snapshot, user: &str| {
        authz
            .check(snap, user, "org.update", Target::Org("acme"), &[])
            .allowed()
    };
    let read_ws = |snap: &Snapshot, user: &str| {
        authz
            .check(snap, user, "workspace.read", Target::Workspace("ws1"), &[])
            .allowed()
    };
    assert!(!update(&before, "mia"));
    assert!(read_ws(&before, "carl"));

    let promoted = before.with_org(
        "acme",
        Some(OrgAccess {
            org_id: "acme".into(),
            members: vec![("mia".into(), RoleKey::Builtin(OrgRole::Admin))],
            ..OrgAccess::default()
        }),
        8,
    );
    assert!(update(&promoted, "mia"));
    // The old snapshot still answers from its own data.
    assert!(!update(&before, "mia"));

    let moved = promoted.with_org(
        "globex",
        Some(OrgAccess {
            org_id: "globex".into(),
            members: vec![("carl".into(), RoleKey::Builtin(OrgRole::Member))],
            workspaces: vec![WorkspaceAccess {
                workspace_id: "ws1".into(),
                members: vec![],
            }],
            ..OrgAccess::default()
        }),
        9,
    );
    // ws1 now belongs to globex, where carl is a plain member.
    assert!(!read_ws(&moved, "carl"));
    assert!(read_ws(&before, "carl"));
}

/// Requests whose parts were parsed before are still checked as a whole:
/// a repeated context passes, a wrong one or a wrong principal type fails
/// every time.
#[test]
fn repeated_requests_are_still_checked_against_the_schema() {
    let authz = repo_authz();
    let snap = snapshot();
    let invite = |principal: Value, context: Value| {
        ask(
            &authz,
            &snap,
            json!({"principal": principal, "action": {"type": "Action", "id": "member.invite"},
                   "resource": {"type": "Organization", "id": "acme"}, "context": context}),
        )
    };
    let olive = json!({"type": "User", "id": "olive"});
    for _ in 0..2 {
        assert!(invite(olive.clone(), json!({"role": "owner"}))
            .unwrap()
            .allowed());
        let adam = invite(
            json!({"type": "User", "id": "adam"}),
            json!({"role": "owner"}),
        );
        assert!(!adam.unwrap().allowed());
        assert!(invite(olive.clone(), json!({"role": 5})).is_err());
        assert!(invite(olive.clone(), json!({"rank": "owner"})).is_err());
        let org = json!({"type": "Organization", "id": "acme"});
        assert!(invite(org, json!({"role": "owner"})).is_err());
    }
}

fn grants(org: &str, key: &str, permissions: &[&str]) -> RoleGrants {
    RoleGrants {
        org: org.into(),
        key: key.into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
    }
}

#[test]
fn prepared_roles_land_on_files_reloaded_in_between() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    for entry in std::fs::read_dir(root.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            std::fs::copy(&path, policies.join(path.file_name().unwrap())).unwrap();
        }
    }
    let authz = Authz::load(&policies, &root.join("schema")).unwrap();
    let mut map = RoleMap::new();
    map.insert(
        "globex".into(),
        vec![grants("globex", "ops", &["billing.read"])],
    );
    authz.set_all_roles(map.clone()).unwrap();

    let prepared = authz
        .prepare_org_roles("acme", vec![grants("acme", "dev", &["invoice.read"])])
        .unwrap();
    std::fs::write(
        policies.join("extra.cedar"),
        "@id(\"extra\")\nforbid (principal, action == Action::\"billing.update\", resource) when { false };\n",
    )
    .unwrap();
    authz.reload().unwrap();
    authz.install_roles(prepared);

    map.insert(
        "acme".into(),
        vec![grants("acme", "dev", &["invoice.read"])],
    );
    let fresh = Authz::load(&policies, &root.join("schema")).unwrap();
    fresh.set_all_roles(map).unwrap();
    let (served, expected) = (authz.info(), fresh.info());
    assert_eq!(served.revision, expected.revision);
    assert_eq!(served.files, expected.files);
    assert!(served
        .files
        .iter()
        .any(|f| f.policy_ids.iter().any(|id| id == "extra")));
    assert_eq!(authz.grant_count(), 2);
}
