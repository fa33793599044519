//! Decision latency in-process: one `is_authorized` with its entity slice,
//! at two data sizes (the cost must not grow with them), a batch of 100,
//! and the snapshot patch that follows a write.
//!
//! Run: `cargo bench --bench decision`

#![allow(clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;

use tenantgate::authz::{Authz, BatchItem, BatchRequest, DecisionRequest};
use tenantgate::model::{OrgAccess, OrgRole, WorkspaceAccess, WorkspaceRole};
use tenantgate::snapshot::Snapshot;

/// `orgs` organizations of 10 members each (1 owner, 2 admins, 1
/// accounting, 6 members) with 2 workspaces of 3 members.
fn dataset(orgs: usize) -> Vec<OrgAccess> {
    (0..orgs)
        .map(|o| {
            let user = |i: usize| format!("u{}", o * 10 + i);
            let role = |i: usize| match i {
                0 => OrgRole::Owner,
                1 | 2 => OrgRole::Admin,
                3 => OrgRole::Accounting,
                _ => OrgRole::Member,
            };
            OrgAccess {
                org_id: format!("o{o}"),
                members: (0..10).map(|i| (user(i), role(i))).collect(),
                workspaces: (0..2)
                    .map(|w| WorkspaceAccess {
                        workspace_id: format!("o{o}w{w}"),
                        members: (4..7)
                            .map(|i| {
                                (
                                    user(i + w),
                                    if i == 4 {
                                        WorkspaceRole::Admin
                                    } else {
                                        WorkspaceRole::Member
                                    },
                                )
                            })
                            .collect(),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn authz() -> Authz {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match Authz::load(&root.join("policies"), &root.join("schema")) {
        Ok(a) => a,
        Err(e) => panic!("default policies do not load: {e}"),
    }
}

fn request(user: &str, action: &str, resource: serde_json::Value) -> DecisionRequest {
    DecisionRequest {
        principal: json!({"type": "User", "id": user}),
        action: json!({"type": "Action", "id": action}),
        resource,
        context: None,
        entities: None,
    }
}

fn decisions(c: &mut Criterion) {
    let authz = authz();
    for (label, orgs) in [("1k_users", 100), ("100k_users", 10_000)] {
        let snapshot = Snapshot::build(dataset(orgs), 1);
        let org = format!("o{}", orgs / 2);
        let ws = format!("{org}w0");
        let member = format!("u{}", (orgs / 2) * 10 + 5);
        let allow = request(
            &member,
            "workspace.read",
            json!({"type": "Workspace", "id": ws}),
        );
        let deny = request(
            &member,
            "org.delete",
            json!({"type": "Organization", "id": org}),
        );
        c.bench_function(&format!("decide/allow_workspace_read/{label}"), |b| {
            b.iter(|| black_box(authz.decide(&snapshot, &allow)))
        });
        c.bench_function(&format!("decide/deny_org_delete/{label}"), |b| {
            b.iter(|| black_box(authz.decide(&snapshot, &deny)))
        });
    }

    let snapshot = Snapshot::build(dataset(100), 1);
    let batch = BatchRequest {
        requests: (0..100)
            .map(|i| {
                let r = request(
                    &format!("u{i}"),
                    "billing.read",
                    json!({"type": "Organization", "id": format!("o{}", i / 10)}),
                );
                BatchItem {
                    principal: r.principal,
                    action: r.action,
                    resource: r.resource,
                    context: None,
                }
            })
            .collect(),
        entities: None,
    };
    c.bench_function("decide_batch/100", |b| {
        b.iter(|| black_box(authz.decide_batch(&snapshot, &batch)))
    });
}

fn snapshot_patch(c: &mut Criterion) {
    let all = dataset(10_000);
    let changed = all[5000].clone();
    let snapshot = Snapshot::build(all, 1);
    c.bench_function("snapshot/patch_one_org/100k_users", |b| {
        b.iter_batched(
            || changed.clone(),
            |access| black_box(snapshot.with_org("o5000", Some(access), 2)),
            BatchSize::SmallInput,
        )
    });
}

fn reload(c: &mut Criterion) {
    let authz = authz();
    c.bench_function("policy_set/reload", |b| {
        b.iter(|| black_box(authz.reload()))
    });
}

criterion_group!(benches, decisions, snapshot_patch, reload);
criterion_main!(benches);
