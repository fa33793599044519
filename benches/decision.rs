//! Decision latency in-process: one `is_authorized` with its entity slice,
//! at two data sizes (the cost must not grow with them), a batch of 100,
//! the snapshot patch that follows a write, and one custom-role change
//! while other organizations hold ~4,000 grants.
//!
//! Run: `cargo bench --bench decision`

#![allow(clippy::panic)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;

use tenantgate::authz::{Authz, BatchItem, BatchRequest, DecisionRequest, RoleGrants, RoleMap};
use tenantgate::dataset::{self, Scale};
use tenantgate::model::{OrgAccess, OrgRole, WorkspaceAccess, WorkspaceRole};
use tenantgate::snapshot::Snapshot;
use tenantgate::store::Store;

// The allocator the binary ships with, so the numbers are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
                members: (0..10).map(|i| (user(i), role(i).into())).collect(),
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
                custom_roles: Vec::new(),
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

/// The policies and schema of the repo plus examples/host, in a temp folder.
fn authz_with_host() -> (tempfile::TempDir, Authz) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    for (sub, from) in [
        ("policies", "policies"),
        ("schema", "schema"),
        ("policies", "examples/host"),
        ("schema", "examples/host"),
    ] {
        let to = dir.path().join(sub);
        let _ = std::fs::create_dir_all(&to);
        for entry in std::fs::read_dir(root.join(from))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let wanted = match sub {
                "policies" => path.extension().is_some_and(|e| e == "cedar"),
                _ => path.extension().is_some_and(|e| e == "cedarschema"),
            };
            if wanted {
                let _ = std::fs::copy(&path, to.join(entry.file_name()));
            }
        }
    }
    match Authz::load(&dir.path().join("policies"), &dir.path().join("schema")) {
        Ok(a) => (dir, a),
        Err(e) => panic!("policies with host types do not load: {e}"),
    }
}

/// The generated request mix (`tenantgate dataset`) at S, M and L: one
/// decision per iteration, cycling through 1,000 requests.
fn request_mix(c: &mut Criterion) {
    let (_dir, authz) = authz_with_host();
    for (label, scale) in [("S", Scale::S), ("M", Scale::M), ("L", Scale::L)] {
        let data = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("temp dir: {e}"),
        };
        let snapshot = match Store::open(&data.path().join("db.sqlite")).and_then(|store| {
            dataset::write(&store, &scale)?;
            store.read(|db| db.load_all_access())
        }) {
            Ok(access) => Snapshot::build(access, 1),
            Err(e) => panic!("dataset {label}: {e}"),
        };
        let mut lines = Vec::new();
        if let Err(e) = dataset::write_requests(&mut lines, &scale, 1000, true, 42) {
            panic!("request mix: {e}");
        }
        let requests: Vec<DecisionRequest> = String::from_utf8_lossy(&lines)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let mut i = 0;
        c.bench_function(&format!("decide/mix/{label}"), |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(authz.decide(&snapshot, &requests[i]))
            })
        });
        let mut plain = requests.iter().filter(|r| r.entities.is_none()).cycle();
        c.bench_function(&format!("decide/mix_without_entities/{label}"), |b| {
            b.iter(|| plain.next().map(|r| black_box(authz.decide(&snapshot, r))))
        });
    }
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

/// 40 organizations with 10 custom roles of 10 permissions each: 4,000
/// generated grant policies.
fn role_map(authz: &Authz) -> RoleMap {
    let permissions: Vec<String> = authz
        .grantable()
        .into_iter()
        .map(|g| g.action)
        .take(10)
        .collect();
    (0..40)
        .map(|o| {
            let org = format!("o{o}");
            let roles = (0..10)
                .map(|r| RoleGrants {
                    org: org.clone(),
                    key: format!("r{r}"),
                    permissions: permissions.clone(),
                })
                .collect();
            (org, roles)
        })
        .collect()
}

/// Creating one role of 10 permissions in an organization of its own
/// (validated, then served), while the others hold 4,000 grants.
fn role_change(c: &mut Criterion) {
    let authz = authz();
    let map = role_map(&authz);
    let role = map["o0"][0].clone();
    if let Err(e) = authz.set_all_roles(map) {
        panic!("the bench roles do not load: {e}");
    }
    let role = RoleGrants {
        org: "other".to_owned(),
        ..role
    };
    c.bench_function("role_change/create_in_other_org/4000_grants", |b| {
        b.iter(
            || match authz.prepare_org_roles("other", vec![role.clone()]) {
                Ok(prepared) => authz.install_roles(prepared),
                Err(e) => panic!("the bench role does not fit: {e}"),
            },
        )
    });
}

/// The workspace of the folders (member `u505` of `dataset(100)` is in it).
const WS: &str = "o50w0";

/// 1,000 folders, each under its workspace and under the folders
/// `parents(i)` of the ones before it.
fn folders(parents: impl Fn(usize) -> Vec<usize>) -> serde_json::Value {
    let folders: Vec<serde_json::Value> = (0..1000usize)
        .map(|i| {
            let mut links = vec![json!({"type": "Workspace", "id": WS})];
            links.extend(
                parents(i)
                    .into_iter()
                    .map(|p| json!({"type": "Folder", "id": format!("f{p}")})),
            );
            json!({
                "uid": {"type": "Folder", "id": format!("f{i}")},
                "attrs": {"workspace": {"__entity": {"type": "Workspace", "id": WS}}},
                "parents": links,
            })
        })
        .collect();
    serde_json::Value::Array(folders)
}

/// Each folder under the `fan` folders just before it: one deep hierarchy
/// (f999 has 999 folders above it). `fan` 24 is ~24,000 parent links.
fn chain(fan: usize) -> serde_json::Value {
    folders(|i| (i.saturating_sub(fan)..i).collect())
}

/// Each folder under up to three folders of lower levels: a shallow tree of
/// 1,000 folders with ~3,000 parent links and ~30,000 ancestor links.
fn tree() -> serde_json::Value {
    folders(|i| {
        let mut p: Vec<usize> = if i == 0 {
            Vec::new()
        } else {
            vec![(i - 1) / 2, (i - 1) / 3, (i - 1) / 4]
        };
        p.dedup();
        p
    })
}

/// The folder schema and policy beside the default ones, in a temp folder.
fn authz_with_folders() -> (tempfile::TempDir, Authz) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let (policies, schema) = (dir.path().join("policies"), dir.path().join("schema"));
    for (from, to) in [("policies", &policies), ("schema", &schema)] {
        let _ = std::fs::create_dir_all(to);
        for entry in std::fs::read_dir(root.join(from))
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.path().is_file() {
                let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
            }
        }
    }
    let written = std::fs::write(
        schema.join("folders.cedarschema"),
        "entity Folder in [Folder, Workspace] { workspace: Workspace };\n\
         action \"folder.read\" appliesTo { principal: User, resource: Folder };\n",
    )
    .and_then(|()| {
        std::fs::write(
            policies.join("folders.cedar"),
            "@id(\"workspace-members-read-folders\")\n\
             permit (principal, action == Action::\"folder.read\", resource is Folder)\n\
             when { principal in resource.workspace.members };\n",
        )
    });
    if let Err(e) = written {
        panic!("folder files: {e}");
    }
    match Authz::load(&policies, &schema) {
        Ok(a) => (dir, a),
        Err(e) => panic!("policies with folders do not load: {e}"),
    }
}

/// One decision over 1,000 nested folders (`fan` parents each at most).
fn nested(c: &mut Criterion) {
    let (_dir, authz) = authz_with_folders();
    let snapshot = Snapshot::build(dataset(100), 1);
    // The tree is decided; the chains are refused (too many ancestor links,
    // too many parent links) before any policy is evaluated.
    for (label, entities) in [
        ("tree", tree()),
        ("chain_fan_3", chain(3)),
        ("chain_fan_24", chain(24)),
    ] {
        let req = DecisionRequest {
            principal: json!({"type": "User", "id": "u505"}),
            action: json!({"type": "Action", "id": "folder.read"}),
            resource: json!({"type": "Folder", "id": "f999"}),
            context: None,
            entities: Some(entities),
        };
        c.bench_function(&format!("decide/nested_folders/{label}"), |b| {
            b.iter(|| black_box(authz.decide(&snapshot, &req)))
        });
    }
}

criterion_group!(
    benches,
    decisions,
    request_mix,
    snapshot_patch,
    reload,
    nested,
    role_change
);
criterion_main!(benches);
