//! The impact of a policy change: the same requests through two policy sets
//! (the test cases of both, and a deterministic sample of real requests
//! built from the database), listing every decision that differs.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Value};

use super::run::{requests, uid_text};
use super::suite::Suite;
use crate::authz::{Authz, DecisionRequest, Outcome};
use crate::model::{OrgAccess, OrgRole};
use crate::snapshot::Snapshot;

/// Organizations sampled from the database unless told otherwise.
pub const DEFAULT_SAMPLE_ORGS: usize = 50;
/// Members of one sampled organization asked about.
const MEMBERS_PER_ORG: usize = 10;
/// Workspaces of one sampled organization asked about.
const WORKSPACES_PER_ORG: usize = 5;

/// One request the two sets decide differently.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `file: case` for a test case, `database` for a sampled request.
    pub source: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub context: Option<Value>,
    /// `allow`, `deny`, or `error` when the set cannot decide the request.
    pub before: String,
    pub after: String,
    pub before_reasons: Vec<String>,
    pub after_reasons: Vec<String>,
}

impl Change {
    /// Whether the decision itself flips (not only the policies behind it).
    pub fn flips(&self) -> bool {
        self.before != self.after
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImpactReport {
    /// Requests decided by both sets.
    pub compared: usize,
    pub from_tests: usize,
    pub from_database: usize,
    /// Decisions that flip, then those whose determining policies change.
    pub changes: Vec<Change>,
}

impl ImpactReport {
    pub fn flips(&self) -> usize {
        self.changes.iter().filter(|c| c.flips()).count()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let context = c
                .context
                .as_ref()
                .map(|v| format!(" context {v}"))
                .unwrap_or_default();
            let what = if c.flips() {
                format!("{} -> {}", c.before, c.after)
            } else {
                format!("{} (determining policies change)", c.after)
            };
            out.push_str(&format!(
                "{what}: {} {} {}{context} [{}] -> [{}]  ({})\n",
                c.principal,
                c.action,
                c.resource,
                c.before_reasons.join(", "),
                c.after_reasons.join(", "),
                c.source
            ));
        }
        out.push_str(&format!(
            "{} requests compared ({} from tests, {} from the database); changed decisions: {}, changed determining policies only: {}\n",
            self.compared,
            self.from_tests,
            self.from_database,
            self.flips(),
            self.changes.len() - self.flips()
        ));
        out
    }
}

/// Decides each request of the suites and of a sample of `data` through
/// `before` and `after`.
pub fn impact(
    before: &Authz,
    after: &Authz,
    suites: &[Suite],
    data: &[OrgAccess],
    sample_orgs: usize,
) -> ImpactReport {
    let mut changes = Vec::new();
    let mut from_tests = 0;
    for suite in suites {
        let snapshot = Snapshot::build(suite.fixture.clone(), 0);
        // A suite's own custom roles apply to both sides; a side that
        // refuses them keeps the database's.
        let own_before = super::run::suite_authz(before, suite).ok().flatten();
        let own_after = super::run::suite_authz(after, suite).ok().flatten();
        let (b, a) = (
            own_before.as_ref().unwrap_or(before),
            own_after.as_ref().unwrap_or(after),
        );
        for case in &suite.cases {
            for req in requests(case) {
                from_tests += 1;
                let source = format!("{}: {}", suite.path, case.name);
                changes.extend(compare(b, a, &snapshot, &req, source));
            }
        }
    }
    let sampled = sample(data, sample_orgs);
    let snapshot = Snapshot::build(data.to_vec(), 0);
    let mut from_database = 0;
    for req in database_requests(before, after, &sampled, data) {
        from_database += 1;
        changes.extend(compare(before, after, &snapshot, &req, "database".into()));
    }
    changes.sort_by_key(|c| !c.flips());
    ImpactReport {
        compared: from_tests + from_database,
        from_tests,
        from_database,
        changes,
    }
}

fn verdict(authz: &Authz, snapshot: &Snapshot, req: &DecisionRequest) -> (String, Vec<String>) {
    match authz.decide(snapshot, req) {
        Ok(d) => {
            let word = match d.decision {
                Outcome::Allow => "allow",
                Outcome::Deny => "deny",
            };
            (word.to_owned(), d.reasons)
        }
        Err(_) => ("error".to_owned(), Vec::new()),
    }
}

fn compare(
    before: &Authz,
    after: &Authz,
    snapshot: &Snapshot,
    req: &DecisionRequest,
    source: String,
) -> Option<Change> {
    let (b, b_reasons) = verdict(before, snapshot, req);
    let (a, a_reasons) = verdict(after, snapshot, req);
    (b != a || b_reasons != a_reasons).then(|| Change {
        source,
        principal: uid_text(&req.principal),
        action: uid_text(&req.action),
        resource: uid_text(&req.resource),
        context: req.context.clone(),
        before: b,
        after: a,
        before_reasons: b_reasons,
        after_reasons: a_reasons,
    })
}

/// Up to `count` organizations spread evenly over the list, so the sample
/// is the same on every run over the same data.
fn sample(data: &[OrgAccess], count: usize) -> Vec<&OrgAccess> {
    if data.is_empty() || count == 0 {
        return Vec::new();
    }
    let step = data.len().div_ceil(count).max(1);
    data.iter().step_by(step).collect()
}

/// Every action of either set that applies to `resource_type`.
fn actions(before: &Authz, after: &Authz, resource_type: &str) -> BTreeSet<String> {
    before
        .actions_on(resource_type)
        .into_iter()
        .chain(after.actions_on(resource_type))
        .collect()
}

/// The contexts an action is asked with: none when it takes none, else each
/// role granted (and each role held before, for role changes) that one of
/// the sets accepts.
fn contexts(before: &Authz, after: &Authz, action: &str) -> Vec<Option<Value>> {
    let empty = json!({});
    if before.accepts_context(action, &empty) || after.accepts_context(action, &empty) {
        return vec![None];
    }
    let roles = OrgRole::ALL.map(OrgRole::as_str);
    let mut candidates = Vec::new();
    for role in roles {
        candidates.push(json!({"role": role}));
        for current in roles {
            candidates.push(json!({"role": role, "current_role": current, "new_role": role}));
        }
    }
    candidates
        .into_iter()
        .filter(|c| before.accepts_context(action, c) || after.accepts_context(action, c))
        .map(Some)
        .collect()
}

/// Members (and one outsider) of each sampled org, asked every action on
/// the org and on its workspaces.
fn database_requests(
    before: &Authz,
    after: &Authz,
    sampled: &[&OrgAccess],
    data: &[OrgAccess],
) -> Vec<DecisionRequest> {
    let mut out = Vec::new();
    let kinds = ["Organization", "Workspace"].map(|kind| {
        let per_action: Vec<(String, Vec<Option<Value>>)> = actions(before, after, kind)
            .into_iter()
            .map(|a| {
                let c = contexts(before, after, &a);
                (a, c)
            })
            .collect();
        (kind, per_action)
    });
    for (index, org) in sampled.iter().enumerate() {
        let mut principals: Vec<&str> = org
            .members
            .iter()
            .take(MEMBERS_PER_ORG)
            .map(|(u, _)| u.as_str())
            .collect();
        // Someone from another organization, to see what outsiders get.
        let outsider = data
            .iter()
            .cycle()
            .skip(index + 1)
            .take(data.len())
            .find(|o| o.org_id != org.org_id)
            .and_then(|o| o.members.first())
            .map(|(u, _)| u.as_str());
        principals.extend(outsider);
        let resources = std::iter::once(("Organization", org.org_id.as_str())).chain(
            org.workspaces
                .iter()
                .take(WORKSPACES_PER_ORG)
                .map(|w| ("Workspace", w.workspace_id.as_str())),
        );
        for (kind, id) in resources {
            let Some((_, per_action)) = kinds.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            for principal in &principals {
                for (action, contexts) in per_action {
                    for context in contexts {
                        out.push(DecisionRequest {
                            principal: json!({"type": "User", "id": principal}),
                            action: json!({"type": "Action", "id": action}),
                            resource: json!({"type": kind, "id": id}),
                            context: context.clone(),
                            entities: None,
                        });
                    }
                }
            }
        }
    }
    out
}
