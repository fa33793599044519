//! Reference point: the same organization decisions as `benches/decision.rs`,
//! made by casbin-rs with the RBAC-with-domains model over an in-memory
//! policy (`MemoryAdapter`).
//!
//! Dataset: the shape of `decision.rs`'s `dataset(orgs)`: organizations `o{n}`
//! of 10 members `u{n*10+i}` (1 owner, 2 admins, 1 accounting, 6 members).
//! RBAC with domains needs, per organization, the role hierarchy as `g` lines
//! (owner → admin → member, accounting → member), one `g` line per member, and
//! the permissions as `p` lines (role, org, org, action): 13 `g` and 7 `p`
//! lines per organization. Workspaces are left out: only organization-level
//! actions are asked.
//!
//! Scales: 100 orgs (1k users), 10,000 orgs (100k users) as in `decision.rs`,
//! and 100,000 orgs (1M memberships). Load time (filling the adapter plus
//! `Enforcer::new`, which loads the policy and builds the role links) is
//! printed to stderr per scale.
//!
//! Run: `cargo bench --bench casbin`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use casbin::prelude::*;
use casbin::Adapter;
use criterion::{criterion_group, criterion_main, Criterion};

/// The canonical RBAC-with-domains model; `g` links users to roles and roles
/// to roles within one domain (organization).
const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"#;

/// Permissions given directly to a role; the rest comes through inheritance.
const PERMISSIONS: [(&str, &str); 7] = [
    ("member", "org.read"),
    ("admin", "org.update"),
    ("owner", "org.delete"),
    ("admin", "billing.read"),
    ("accounting", "billing.read"),
    ("owner", "invoice.read"),
    ("accounting", "invoice.read"),
];

/// Role hierarchy within an organization: (role, role it inherits from).
const HIERARCHY: [(&str, &str); 3] = [
    ("owner", "admin"),
    ("admin", "member"),
    ("accounting", "member"),
];

fn role(i: usize) -> &'static str {
    match i {
        0 => "owner",
        1 | 2 => "admin",
        3 => "accounting",
        _ => "member",
    }
}

fn line(fields: [&str; 3]) -> Vec<String> {
    fields.iter().map(|s| (*s).to_owned()).collect()
}

/// (`p` lines, `g` lines) for `orgs` organizations.
fn dataset(orgs: usize) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let mut p = Vec::with_capacity(orgs * PERMISSIONS.len());
    let mut g = Vec::with_capacity(orgs * (HIERARCHY.len() + 10));
    for o in 0..orgs {
        let org = format!("o{o}");
        for (r, act) in PERMISSIONS {
            p.push(vec![r.to_owned(), org.clone(), org.clone(), act.to_owned()]);
        }
        for (child, parent) in HIERARCHY {
            g.push(line([child, parent, &org]));
        }
        for i in 0..10 {
            g.push(line([&format!("u{}", o * 10 + i), role(i), &org]));
        }
    }
    (p, g)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// Fills a `MemoryAdapter` with the dataset and builds the enforcer.
fn enforcer(rt: &tokio::runtime::Runtime, orgs: usize) -> (Enforcer, Duration) {
    let (p, g) = dataset(orgs);
    rt.block_on(async {
        let model = DefaultModel::from_str(MODEL).await.expect("model");
        let start = Instant::now();
        let mut adapter = MemoryAdapter::default();
        assert!(adapter.add_policies("p", "p", p).await.expect("p lines"));
        assert!(adapter.add_policies("g", "g", g).await.expect("g lines"));
        let e = Enforcer::new(model, adapter).await.expect("enforcer");
        (e, start.elapsed())
    })
}

fn allowed(e: &Enforcer, user: &str, org: &str, act: &str) -> bool {
    e.enforce((user, org, org, act)).expect("enforce")
}

/// The permission matrix of DESIGN.md for the organization actions modelled
/// here, checked on the first organization before anything is measured.
fn check_matrix(e: &Enforcer) {
    let expected = |r: &str, act: &str| match act {
        "org.read" => true,
        "org.update" => matches!(r, "owner" | "admin"),
        "org.delete" => r == "owner",
        "billing.read" => r != "member",
        "invoice.read" => matches!(r, "owner" | "accounting"),
        _ => false,
    };
    for i in 0..10 {
        let user = format!("u{i}");
        for (_, act) in PERMISSIONS {
            assert_eq!(
                allowed(e, &user, "o0", act),
                expected(role(i), act),
                "{user} ({}) {act} on o0",
                role(i)
            );
            // Roles do not leak across organizations.
            assert!(!allowed(e, &user, "o1", act), "{user} {act} on o1");
        }
    }
}

fn enforce(c: &mut Criterion) {
    let rt = runtime();
    for (label, orgs, samples) in [
        ("1k_users", 100, 100),
        ("100k_users", 10_000, 10),
        ("1m_memberships", 100_000, 10),
    ] {
        let (e, load) = enforcer(&rt, orgs);
        eprintln!(
            "casbin/load/{label}: {orgs} orgs, {} p + {} g lines in {load:.2?}",
            orgs * PERMISSIONS.len(),
            orgs * (HIERARCHY.len() + 10),
        );
        check_matrix(&e);

        let org = format!("o{}", orgs / 2);
        let admin = format!("u{}", (orgs / 2) * 10 + 1);
        let member = format!("u{}", (orgs / 2) * 10 + 5);
        assert!(allowed(&e, &admin, &org, "org.update"));
        assert!(!allowed(&e, &member, &org, "org.delete"));

        let mut group = c.benchmark_group("casbin");
        group.sample_size(samples);
        group.bench_function(format!("enforce_allow/{label}"), |b| {
            b.iter(|| {
                e.enforce(black_box((
                    admin.as_str(),
                    org.as_str(),
                    org.as_str(),
                    "org.update",
                )))
            })
        });
        group.bench_function(format!("enforce_deny/{label}"), |b| {
            b.iter(|| {
                e.enforce(black_box((
                    member.as_str(),
                    org.as_str(),
                    org.as_str(),
                    "org.delete",
                )))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, enforce);
criterion_main!(benches);
