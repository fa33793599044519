//! The default permission matrix of DESIGN.md ("Default permissions"),
//! cell by cell, through `POST /v1/is_authorized` against the shipped
//! policies. Each test is a table: every row is one action on one resource
//! with one context and the expected answer for each of the users below.
//! All cells are asked and every wrong one is reported at once.
//!
//! The seeded org "acme" (see `seed_acme`): olive owner, adam admin, carl
//! accounting, mia member (member of ws1), nick member (no workspace), wanda
//! member (admin of ws1); workspaces ws1 and ws2. "stranger" belongs to
//! nothing.

use serde_json::{json, Value};

use crate::support::*;

/// The columns of a table row: the org's owner, an admin, accounting, a
/// plain member and a non-member.
const COLUMNS: [&str; 5] = ["olive", "adam", "carl", "mia", "stranger"];

/// The other plain members of acme. On rows that do not depend on
/// workspace membership they must answer exactly as mia does.
const LIKE_MIA: [&str; 2] = ["nick", "wanda"];

const Y: bool = true;
const N: bool = false;

/// The forbid policies of the default set: never the reason of an Allow.
const FORBIDS: [&str; 5] = [
    "only-owners-grant-owner",
    "only-owners-demote-owner",
    "only-owners-change-owner-invites",
    "only-admins-grant-admin-or-accounting",
    "only-admins-demote-admin-or-accounting",
];

const ROLES: [&str; 4] = ["owner", "admin", "accounting", "member"];

/// One action on one resource with one context, and the expected answer
/// for each of `COLUMNS` (olive, adam, carl, mia, stranger).
struct Row {
    action: &'static str,
    resource: Value,
    context: Value,
    expect: [bool; 5],
}

fn row(action: &'static str, resource: Value, context: Value, expect: [bool; 5]) -> Row {
    Row {
        action,
        resource,
        context,
        expect,
    }
}

/// One cell: one user asking one question.
struct Case {
    user: String,
    action: String,
    resource: Value,
    context: Value,
    entities: Option<Value>,
    allow: bool,
    /// The exact determining policies, when the test pins them.
    reasons: Option<Vec<&'static str>>,
}

fn case(user: &str, action: &str, resource: Value, context: Value, allow: bool) -> Case {
    Case {
        user: user.to_owned(),
        action: action.to_owned(),
        resource,
        context,
        entities: None,
        allow,
        reasons: None,
    }
}

impl Case {
    fn with_entities(mut self, entities: Value) -> Self {
        self.entities = Some(entities);
        self
    }

    fn with_reasons(mut self, reasons: &[&'static str]) -> Self {
        self.reasons = Some(reasons.to_vec());
        self
    }
}

/// The cells of `rows`, one per column; with `mirror`, nick and wanda also
/// get mia's column.
fn cells(rows: Vec<Row>, mirror: bool) -> Vec<Case> {
    let mut out = Vec::new();
    for r in rows {
        for (user, allow) in COLUMNS.iter().zip(r.expect) {
            out.push(case(
                user,
                r.action,
                r.resource.clone(),
                r.context.clone(),
                allow,
            ));
        }
        if mirror {
            for user in LIKE_MIA {
                out.push(case(
                    user,
                    r.action,
                    r.resource.clone(),
                    r.context.clone(),
                    r.expect[3],
                ));
            }
        }
    }
    out
}

fn label(c: &Case) -> String {
    let resource = format!(
        "{}::{}",
        c.resource["type"].as_str().unwrap_or("?"),
        c.resource["id"].as_str().unwrap_or("?")
    );
    format!(
        "user {} action {} on {resource} context {}",
        c.user, c.action, c.context
    )
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Asks every case; returns a line for each wrong answer.
async fn check(app: &TestApp, cases: &[Case]) -> Vec<String> {
    let mut wrong = Vec::new();
    for c in cases {
        let mut body = json!({
            "principal": {"type": "User", "id": c.user},
            "action": {"type": "Action", "id": c.action},
            "resource": c.resource,
            "context": c.context,
        });
        if let Some(entities) = &c.entities {
            body["entities"] = entities.clone();
        }
        let resp = app.post("/v1/is_authorized", None, body).await;
        let what = label(c);
        if resp.status.as_u16() != 200 {
            wrong.push(format!("{what}: HTTP {} {}", resp.status, resp.body));
            continue;
        }
        let decision = resp.body["decision"].as_str().unwrap_or("");
        let expected = if c.allow { "Allow" } else { "Deny" };
        let reasons = strings(&resp.body["reasons"]);
        if decision != expected {
            wrong.push(format!(
                "{what}: expected {expected}, got {decision:?} (reasons {reasons:?})"
            ));
        }
        let errors = &resp.body["errors"];
        let no_errors = matches!(errors.as_array(), Some(e) if e.is_empty());
        if !no_errors {
            wrong.push(format!("{what}: evaluation errors {errors}"));
        }
        let forbid_reasons: Vec<&String> = reasons
            .iter()
            .filter(|r| FORBIDS.contains(&r.as_str()))
            .collect();
        if decision == "Allow" {
            if reasons.is_empty() {
                wrong.push(format!("{what}: an Allow without reasons"));
            }
            if !forbid_reasons.is_empty() {
                wrong.push(format!(
                    "{what}: an Allow names forbid policies {forbid_reasons:?}"
                ));
            }
        } else if forbid_reasons.len() != reasons.len() {
            wrong.push(format!("{what}: a Deny names permit policies {reasons:?}"));
        }
        if let Some(pinned) = &c.reasons {
            let mut pinned: Vec<String> = pinned.iter().map(|s| (*s).to_owned()).collect();
            pinned.sort();
            if reasons != pinned {
                wrong.push(format!("{what}: reasons {reasons:?}, expected {pinned:?}"));
            }
        }
    }
    wrong
}

#[track_caller]
fn assert_none_wrong(wrong: &[String], cells: usize) {
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

async fn acme() -> TestApp {
    let app = TestApp::new();
    app.seed_acme().await;
    app
}

fn none() -> Value {
    json!({})
}

fn grant(role: &str) -> Value {
    json!({"role": role})
}

fn change(current_role: &str, new_role: &str) -> Value {
    json!({"role": new_role, "current_role": current_role, "new_role": new_role})
}

#[tokio::test]
async fn organization_actions_follow_the_matrix() {
    let app = acme().await;
    let acme = org("acme");
    let rows = vec![
        //                                               olive adam carl mia stranger
        row("org.read", acme.clone(), none(), [Y, Y, Y, Y, N]),
        row("member.list", acme.clone(), none(), [Y, Y, Y, Y, N]),
        row("org.update", acme.clone(), none(), [Y, Y, N, N, N]),
        row("org.delete", acme.clone(), none(), [Y, N, N, N, N]),
        row(
            "org.transfer_ownership",
            acme.clone(),
            none(),
            [Y, N, N, N, N],
        ),
        row("audit.read", acme.clone(), none(), [Y, Y, N, N, N]),
        row("workspace.create", acme.clone(), none(), [Y, Y, N, N, N]),
        row("invite.list", acme.clone(), none(), [Y, Y, N, N, N]),
    ];
    let cases = cells(rows, true);
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn membership_changes_follow_the_matrix() {
    let app = acme().await;
    let acme = org("acme");
    let mut rows = Vec::new();
    // Owners grant or take any role; admins any but owner; nobody else any.
    for action in ["member.invite", "member.add", "member.remove"] {
        for role in ROLES {
            let admin = role != "owner";
            rows.push(row(action, acme.clone(), grant(role), [Y, admin, N, N, N]));
        }
    }
    // A role change touches the owner role when it comes from or goes to it:
    // an admin may neither promote to owner nor demote an owner.
    for current in ROLES {
        for new in ROLES {
            let admin = current != "owner" && new != "owner";
            rows.push(row(
                "member.update_role",
                acme.clone(),
                change(current, new),
                [Y, admin, N, N, N],
            ));
        }
    }
    let cases = cells(rows, true);
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn every_member_may_leave_and_a_stranger_may_not() {
    let app = acme().await;
    let acme = org("acme");
    // The context names the leaving user's own role; the last-owner rule is
    // the sidecar's, not the policy's.
    let mut cases: Vec<Case> = [
        ("olive", "owner"),
        ("adam", "admin"),
        ("carl", "accounting"),
        ("mia", "member"),
        ("nick", "member"),
        ("wanda", "member"),
    ]
    .into_iter()
    .map(|(user, role)| case(user, "member.leave", acme.clone(), grant(role), true))
    .collect();
    for role in ROLES {
        cases.push(case(
            "stranger",
            "member.leave",
            acme.clone(),
            grant(role),
            false,
        ));
    }
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn invite_management_follows_the_matrix() {
    let app = acme().await;
    let acme = org("acme");
    let mut rows = Vec::new();
    for action in ["invite.resend", "invite.revoke"] {
        for role in ["admin", "accounting", "member"] {
            rows.push(row(action, acme.clone(), grant(role), [Y, Y, N, N, N]));
        }
        // An owner invitation follows the rule of granting owner: only
        // owners resend (a fresh live owner link) or revoke it.
        rows.push(row(action, acme.clone(), grant("owner"), [Y, N, N, N, N]));
    }
    // Changing an invitation's role is granting it: only owners turn an
    // invitation into, or out of, an owner invitation.
    for current in ROLES {
        for new in ROLES {
            let admin = current != "owner" && new != "owner";
            rows.push(row(
                "invite.update",
                acme.clone(),
                change(current, new),
                [Y, admin, N, N, N],
            ));
        }
    }
    let cases = cells(rows, true);
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn billing_and_invoices_cascade_to_every_workspace() {
    let app = acme().await;
    let mut rows = Vec::new();
    for resource in [org("acme"), workspace("ws1"), workspace("ws2")] {
        //                                                       olive adam carl mia stranger
        rows.push(row(
            "billing.read",
            resource.clone(),
            none(),
            [Y, Y, Y, N, N],
        ));
        rows.push(row(
            "billing.update",
            resource.clone(),
            none(),
            [Y, N, Y, N, N],
        ));
        rows.push(row(
            "invoice.read",
            resource.clone(),
            none(),
            [Y, N, Y, N, N],
        ));
        rows.push(row(
            "invoice.update",
            resource.clone(),
            none(),
            [Y, N, Y, N, N],
        ));
    }
    // Workspace membership (mia, and wanda as ws1 admin) gives no billing
    // rights: nick and wanda answer as mia does.
    let cases = cells(rows, true);
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn workspaces_follow_the_matrix() {
    let app = acme().await;
    let (ws1, ws2) = (workspace("ws1"), workspace("ws2"));
    let mut rows = vec![
        //                                             olive adam carl mia stranger
        row("workspace.delete", ws1.clone(), none(), [Y, Y, N, N, N]),
        row("workspace.delete", ws2.clone(), none(), [Y, Y, N, N, N]),
        // Owners, admins and accounting see all; members the ones they are in.
        row("workspace.read", ws1.clone(), none(), [Y, Y, Y, Y, N]),
        row("workspace.read", ws2.clone(), none(), [Y, Y, Y, N, N]),
    ];
    for role in ["admin", "member"] {
        // Org owners and admins manage every workspace's members.
        rows.push(row(
            "workspace.manage_members",
            ws1.clone(),
            grant(role),
            [Y, Y, N, N, N],
        ));
        rows.push(row(
            "workspace.manage_members",
            ws2.clone(),
            grant(role),
            [Y, Y, N, N, N],
        ));
    }
    let mut cases = cells(rows, false);
    // nick is in no workspace; wanda is the admin of ws1 only.
    for (user, resource, allow) in [
        ("nick", &ws1, false),
        ("nick", &ws2, false),
        ("wanda", &ws1, true),
        ("wanda", &ws2, false),
    ] {
        cases.push(case(
            user,
            "workspace.read",
            resource.clone(),
            none(),
            allow,
        ));
        for role in ["admin", "member"] {
            cases.push(case(
                user,
                "workspace.manage_members",
                resource.clone(),
                grant(role),
                allow,
            ));
        }
    }
    // A workspace admin does not delete the workspace, nor create others.
    for user in LIKE_MIA {
        for resource in [&ws1, &ws2] {
            cases.push(case(
                user,
                "workspace.delete",
                resource.clone(),
                none(),
                false,
            ));
        }
        cases.push(case(user, "workspace.create", org("acme"), none(), false));
    }
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

/// A host document in workspace `ws`, as the host passes it in `entities`.
fn document(id: &str, ws: &str) -> Value {
    json!([{
        "uid": {"type": "Document", "id": id},
        "attrs": {"workspace": {"type": "Workspace", "id": ws}},
        "parents": [{"type": "Workspace", "id": ws}],
    }])
}

#[tokio::test]
async fn host_documents_reach_the_org_roles_through_their_workspace() {
    let app = TestApp::builder().with_host_resources().build();
    app.seed_acme().await;
    let d1 = json!({"type": "Document", "id": "d1"});
    let d2 = json!({"type": "Document", "id": "d2"});
    let in_ws1 = document("d1", "ws1");
    let in_ws2 = document("d2", "ws2");
    let mut cases = Vec::new();
    for (user, read_d1, edit_d1, read_d2, edit_d2) in [
        // user     read d1  edit d1  read d2  edit d2
        ("olive", Y, Y, Y, Y),
        ("adam", Y, Y, Y, Y),
        ("carl", Y, N, Y, N),
        ("mia", Y, N, N, N),
        ("nick", N, N, N, N),
        ("wanda", Y, Y, N, N),
        ("stranger", N, N, N, N),
    ] {
        for (action, resource, entities, allow) in [
            ("document.read", &d1, &in_ws1, read_d1),
            ("document.edit", &d1, &in_ws1, edit_d1),
            ("document.read", &d2, &in_ws2, read_d2),
            ("document.edit", &d2, &in_ws2, edit_d2),
        ] {
            cases.push(
                case(user, action, resource.clone(), none(), allow).with_entities(entities.clone()),
            );
        }
    }
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn roles_do_not_leak_across_organizations() {
    let app = acme().await;
    // mia owns globex (with workspace gws) and is still a plain member of acme.
    app.create_org("globex", "mia").await;
    app.create_workspace("globex", "gws").await;
    let (acme, globex, gws) = (org("acme"), org("globex"), workspace("gws"));
    let mut cases = Vec::new();
    // mia on acme: a member, nothing more.
    for (action, resource, context, allow) in [
        ("org.read", &acme, none(), true),
        ("org.update", &acme, none(), false),
        ("org.delete", &acme, none(), false),
        ("org.transfer_ownership", &acme, none(), false),
        ("audit.read", &acme, none(), false),
        ("invite.list", &acme, none(), false),
        ("member.add", &acme, grant("owner"), false),
        ("member.add", &acme, grant("member"), false),
        (
            "member.update_role",
            &acme,
            change("owner", "member"),
            false,
        ),
        ("billing.read", &acme, none(), false),
        ("workspace.create", &acme, none(), false),
        ("workspace.read", &workspace("ws2"), none(), false),
        ("workspace.delete", &workspace("ws1"), none(), false),
        (
            "workspace.manage_members",
            &workspace("ws1"),
            grant("member"),
            false,
        ),
    ] {
        cases.push(case("mia", action, resource.clone(), context, allow));
    }
    // mia on globex: its owner.
    for (action, resource, context) in [
        ("org.read", &globex, none()),
        ("org.delete", &globex, none()),
        ("member.add", &globex, grant("owner")),
        ("member.update_role", &globex, change("owner", "member")),
        ("billing.update", &globex, none()),
        ("workspace.read", &gws, none()),
        ("workspace.manage_members", &gws, grant("admin")),
        ("invoice.read", &gws, none()),
    ] {
        cases.push(case("mia", action, resource.clone(), context, true));
    }
    // acme's owner, admin, accounting and other members: nothing on globex.
    for user in ["olive", "adam", "carl", "nick", "wanda", "stranger"] {
        for (action, resource, context) in [
            ("org.read", &globex, none()),
            ("member.list", &globex, none()),
            ("org.update", &globex, none()),
            ("org.delete", &globex, none()),
            ("audit.read", &globex, none()),
            ("member.add", &globex, grant("member")),
            ("member.leave", &globex, grant("member")),
            ("billing.read", &globex, none()),
            ("invoice.read", &globex, none()),
            ("workspace.create", &globex, none()),
            ("workspace.read", &gws, none()),
            ("workspace.delete", &gws, none()),
            ("workspace.manage_members", &gws, grant("member")),
            ("billing.read", &gws, none()),
        ] {
            cases.push(case(user, action, resource.clone(), context, false));
        }
    }
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}

#[tokio::test]
async fn decisions_name_the_determining_policies() {
    let app = TestApp::builder().with_host_resources().build();
    app.seed_acme().await;
    let acme = org("acme");
    let d1 = json!({"type": "Document", "id": "d1"});
    let cases = vec![
        case("olive", "org.delete", acme.clone(), none(), true)
            .with_reasons(&["owners-delete-or-transfer-org"]),
        case(
            "olive",
            "org.transfer_ownership",
            acme.clone(),
            none(),
            true,
        )
        .with_reasons(&["owners-delete-or-transfer-org"]),
        case("mia", "org.read", acme.clone(), none(), true).with_reasons(&["members-read-org"]),
        case("adam", "org.update", acme.clone(), none(), true).with_reasons(&["admins-update-org"]),
        case("adam", "audit.read", acme.clone(), none(), true).with_reasons(&["admins-read-audit"]),
        // The owner grants the owner role: the forbid does not apply, so it
        // is not a reason.
        case("olive", "member.add", acme.clone(), grant("owner"), true)
            .with_reasons(&["admins-manage-members"]),
        case(
            "olive",
            "member.update_role",
            acme.clone(),
            change("owner", "admin"),
            true,
        )
        .with_reasons(&["admins-manage-members"]),
        case("adam", "member.invite", acme.clone(), grant("admin"), true)
            .with_reasons(&["admins-manage-members"]),
        case("adam", "member.leave", acme.clone(), grant("admin"), true)
            .with_reasons(&["members-leave"]),
        case(
            "olive",
            "invite.update",
            acme.clone(),
            change("member", "owner"),
            true,
        )
        .with_reasons(&["admins-manage-invites"]),
        // Denied by a forbid: the forbid is the reason.
        case("adam", "member.add", acme.clone(), grant("owner"), false)
            .with_reasons(&["only-owners-grant-owner"]),
        case("adam", "member.remove", acme.clone(), grant("owner"), false)
            .with_reasons(&["only-owners-grant-owner"]),
        case(
            "adam",
            "member.update_role",
            acme.clone(),
            change("owner", "admin"),
            false,
        )
        .with_reasons(&["only-owners-demote-owner"]),
        case(
            "adam",
            "invite.update",
            acme.clone(),
            change("member", "owner"),
            false,
        )
        .with_reasons(&["only-owners-change-owner-invites"]),
        // Denied for want of a permit: no reason.
        case("carl", "member.add", acme.clone(), grant("member"), false).with_reasons(&[]),
        case("stranger", "org.read", acme.clone(), none(), false).with_reasons(&[]),
        // Billing and workspaces.
        case("carl", "billing.update", workspace("ws2"), none(), true)
            .with_reasons(&["owners-and-accounting-manage-workspace-billing"]),
        case("carl", "invoice.read", acme.clone(), none(), true)
            .with_reasons(&["owners-and-accounting-manage-billing"]),
        case("adam", "billing.read", acme.clone(), none(), true)
            .with_reasons(&["admins-and-accounting-read-billing"]),
        case("olive", "workspace.read", workspace("ws1"), none(), true)
            .with_reasons(&["admins-and-accounting-read-all-workspaces"]),
        case("mia", "workspace.read", workspace("ws1"), none(), true)
            .with_reasons(&["workspace-members-read-workspace"]),
        case(
            "wanda",
            "workspace.manage_members",
            workspace("ws1"),
            grant("member"),
            true,
        )
        .with_reasons(&["workspace-admins-manage-workspace-members"]),
        case(
            "adam",
            "workspace.manage_members",
            workspace("ws2"),
            grant("member"),
            true,
        )
        .with_reasons(&["org-admins-manage-workspace-members"]),
        // Host documents.
        case("mia", "document.read", d1.clone(), none(), true)
            .with_entities(document("d1", "ws1"))
            .with_reasons(&["workspace-members-read-documents"]),
        case("adam", "document.edit", d1.clone(), none(), true)
            .with_entities(document("d1", "ws1"))
            .with_reasons(&["workspace-admins-edit-documents"]),
    ];
    let wrong = check(&app, &cases).await;
    assert_none_wrong(&wrong, cases.len());
}
