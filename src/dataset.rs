//! Deterministic benchmark datasets: organizations, users, memberships and
//! workspaces at three scales, written straight into a database, plus a
//! realistic mix of decision requests (management actions and host
//! resources inside workspaces, allowed and denied).

use std::io::Write;

use serde_json::json;

use crate::model::{OrgRole, WorkspaceRole};
use crate::store::{Store, StoreError};

/// The size of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub orgs: usize,
    pub users: usize,
    pub members_per_org: usize,
    pub workspaces_per_org: usize,
    pub members_per_workspace: usize,
}

impl Scale {
    /// S: 1k users, 100 orgs (each user in one org).
    pub const S: Scale = Scale {
        orgs: 100,
        users: 1_000,
        members_per_org: 10,
        workspaces_per_org: 3,
        members_per_workspace: 4,
    };
    /// M: 100k users, 10k orgs, 200k memberships.
    pub const M: Scale = Scale {
        orgs: 10_000,
        users: 100_000,
        members_per_org: 20,
        workspaces_per_org: 3,
        members_per_workspace: 4,
    };
    /// L: 500k users, 50k orgs, 1M memberships.
    pub const L: Scale = Scale {
        orgs: 50_000,
        users: 500_000,
        members_per_org: 20,
        workspaces_per_org: 3,
        members_per_workspace: 4,
    };

    pub fn parse(name: &str) -> Option<Scale> {
        match name.to_ascii_lowercase().as_str() {
            "s" => Some(Self::S),
            "m" => Some(Self::M),
            "l" => Some(Self::L),
            _ => None,
        }
    }

    pub fn memberships(&self) -> usize {
        self.orgs * self.members_per_org
    }
}

/// splitmix64: a tiny deterministic generator (no need for cryptographic
/// randomness in a dataset).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The members of org `o`: user indexes, the first one the owner.
/// Member `i` of org `o` is user `(o * members + i * stride) % users`,
/// which spreads users evenly over organizations.
pub fn org_members(scale: &Scale, o: usize) -> Vec<usize> {
    let stride = scale.users / scale.members_per_org;
    (0..scale.members_per_org)
        .map(|i| (o + i * stride) % scale.users)
        .collect()
}

/// The role of the `i`-th member of an organization.
pub fn role_of(i: usize) -> OrgRole {
    match i {
        0 => OrgRole::Owner,
        1 | 2 => OrgRole::Admin,
        3 => OrgRole::Accounting,
        _ => OrgRole::Member,
    }
}

pub fn org_id(o: usize) -> String {
    format!("org{o}")
}

pub fn user_id(u: usize) -> String {
    format!("user{u}")
}

fn user_email(u: usize) -> String {
    format!("user{u}@example.com")
}

pub fn workspace_id(o: usize, w: usize) -> String {
    format!("org{o}-ws{w}")
}

/// The member indexes (into `org_members`) of workspace `w` of an org, the
/// first one its admin.
pub fn workspace_members(scale: &Scale, w: usize) -> Vec<usize> {
    (0..scale.members_per_workspace)
        .map(|k| 4 + (w * scale.members_per_workspace + k) % (scale.members_per_org - 4).max(1))
        .collect()
}

/// Writes the whole dataset into `store` in one transaction.
pub fn write(store: &Store, scale: &Scale) -> Result<(), StoreError> {
    store.write(|db| {
        for u in 0..scale.users {
            db.record_user(&user_id(u), &user_email(u))?;
        }
        for o in 0..scale.orgs {
            let org = org_id(o);
            if !db.insert_org(&org, &format!("Organization {o}"))? {
                return Err(StoreError::IdTaken(format!("organization id `{org}`")));
            }
            let members = org_members(scale, o);
            for (i, u) in members.iter().enumerate() {
                db.insert_member(&org, &user_id(*u), &role_of(i).into(), &user_email(*u))?;
            }
            for w in 0..scale.workspaces_per_org {
                let ws = workspace_id(o, w);
                if !db.insert_workspace(&ws, &org, &format!("Workspace {w}"))? {
                    return Err(StoreError::IdTaken(format!("workspace id `{ws}`")));
                }
                for (k, m) in workspace_members(scale, w).into_iter().enumerate() {
                    let role = if k == 0 {
                        WorkspaceRole::Admin
                    } else {
                        WorkspaceRole::Member
                    };
                    if let Some(u) = members.get(m) {
                        db.set_workspace_member(&ws, &org, &user_id(*u), role)?;
                    }
                }
            }
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(())
}

/// Writes `count` decision requests (one JSON body per line): a mix of
/// management checks, billing, workspace reads and, with
/// `host_resources`, documents inside workspaces (examples/host).
pub fn write_requests(
    out: &mut impl Write,
    scale: &Scale,
    count: usize,
    host_resources: bool,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = Rng::new(seed);
    let roles = ["owner", "admin", "accounting", "member"];
    for _ in 0..count {
        let o = rng.below(scale.orgs);
        let members = org_members(scale, o);
        // One in ten askers is not a member of the org at all.
        let user = if rng.below(10) == 0 {
            user_id(rng.below(scale.users))
        } else {
            user_id(members[rng.below(members.len())])
        };
        let ws = workspace_id(o, rng.below(scale.workspaces_per_org));
        let org_ref = json!({"type": "Organization", "id": org_id(o)});
        let ws_ref = json!({"type": "Workspace", "id": ws});
        let kinds = if host_resources { 8 } else { 6 };
        let body = match rng.below(kinds) {
            0 => {
                json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "org.update"}, "resource": org_ref})
            }
            1 => {
                json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "member.invite"},
                        "resource": org_ref, "context": {"role": roles[rng.below(4)]}})
            }
            2 => {
                json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "billing.read"}, "resource": org_ref})
            }
            3 => {
                json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "invoice.read"}, "resource": ws_ref})
            }
            4 | 5 => {
                json!({"principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "workspace.read"}, "resource": ws_ref})
            }
            k => json!({
                "principal": {"type": "User", "id": user},
                "action": {"type": "Action", "id": if k == 6 { "document.read" } else { "document.edit" }},
                "resource": {"type": "Document", "id": format!("{ws}-doc{}", rng.below(100))},
                "entities": [{"uid": {"type": "Document", "id": format!("{ws}-doc{}", rng.below(100))},
                              "attrs": {"workspace": ws_ref}, "parents": [ws_ref]}],
            }),
        };
        // The document in `entities` must be the resource: use one id.
        let body = match body.get("entities") {
            Some(entities) => {
                let mut b = body.clone();
                b["resource"] = entities[0]["uid"].clone();
                b
            }
            None => body,
        };
        writeln!(out, "{body}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datasets_are_deterministic_and_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        write(&store, &Scale::S).unwrap();
        let access = store.read(|db| db.load_all_access()).unwrap();
        assert_eq!(access.len(), 100);
        let memberships: usize = access.iter().map(|a| a.members.len()).sum();
        assert_eq!(memberships, Scale::S.memberships());
        assert!(access.iter().all(|a| a
            .members
            .iter()
            .filter(|(_, r)| r.is(OrgRole::Owner))
            .count()
            == 1));
        assert!(access
            .iter()
            .all(|a| a.workspaces.len() == 3 && a.workspaces.iter().all(|w| w.members.len() == 4)));

        let mut a = Vec::new();
        let mut b = Vec::new();
        write_requests(&mut a, &Scale::S, 50, true, 7).unwrap();
        write_requests(&mut b, &Scale::S, 50, true, 7).unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.lines().count(), 50);
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    }
}
