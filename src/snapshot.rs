//! The in-memory picture of who holds which role where, that every decision
//! reads. It is immutable: a committed write produces a new snapshot by
//! patching only the organization it touched (persistent maps make that
//! cheap), and the new one is swapped in atomically.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use imbl::HashMap;

use crate::model::{OrgAccess, RoleKey, WorkspaceRole};

/// Who belongs to one organization and which workspaces it has.
#[derive(Debug, Clone, Default)]
struct OrgEntry {
    members: Vec<Arc<str>>,
    workspaces: Vec<Arc<str>>,
    /// Keys of its custom roles (a handful per organization, so a scan is
    /// cheaper than a set).
    custom_roles: Vec<Box<str>>,
}

/// A workspace: its organization and its members.
#[derive(Debug, Clone)]
pub struct WorkspaceEntry {
    pub org: Arc<str>,
    members: Vec<Arc<str>>,
}

/// A user's roles, everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRoles {
    /// `(org id, role)`.
    pub orgs: Vec<(Arc<str>, RoleKey)>,
    /// `(org id, workspace id, role)`.
    pub workspaces: Vec<(Arc<str>, Arc<str>, WorkspaceRole)>,
}

impl UserRoles {
    fn is_empty(&self) -> bool {
        self.orgs.is_empty() && self.workspaces.is_empty()
    }

    pub fn org_role(&self, org: &str) -> Option<&RoleKey> {
        self.orgs
            .iter()
            .find(|(o, _)| &**o == org)
            .map(|(_, role)| role)
    }
}

/// The next snapshot generation: unique in the process, unlike the data
/// revision (tests and benches build unrelated snapshots at one revision).
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone)]
pub struct Snapshot {
    revision: u64,
    /// Names this content: every build and patch takes a new generation;
    /// only a clone shares it, and a clone holds the same data.
    generation: u64,
    orgs: HashMap<Arc<str>, Arc<OrgEntry>>,
    workspaces: HashMap<Arc<str>, Arc<WorkspaceEntry>>,
    users: HashMap<Arc<str>, Arc<UserRoles>>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            revision: 0,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            orgs: HashMap::new(),
            workspaces: HashMap::new(),
            users: HashMap::new(),
        }
    }
}

impl Snapshot {
    /// Builds the snapshot of a whole database. Users go straight into the
    /// persistent map, each id allocated once and shared by every
    /// membership, to keep the peak and resident memory low.
    pub fn build(all: Vec<OrgAccess>, revision: u64) -> Self {
        let mut snapshot = Self {
            revision,
            ..Self::default()
        };
        let mut users: HashMap<Arc<str>, Arc<UserRoles>> = HashMap::new();
        for access in all {
            let org: Arc<str> = Arc::from(access.org_id.as_str());
            let entry = snapshot.index_org(&org, access, |user, apply| {
                let key = match users.get_key_value(user) {
                    Some((key, _)) => key.clone(),
                    None => Arc::from(user),
                };
                apply(Arc::make_mut(users.entry(key.clone()).or_default()));
                key
            });
            snapshot.orgs.insert(org, Arc::new(entry));
        }
        snapshot.users = users;
        snapshot
    }

    /// The data revision this snapshot reflects.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Two snapshots of one generation hold the same data, so what was
    /// checked against one holds for the other.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn org_exists(&self, org: &str) -> bool {
        self.orgs.contains_key(org)
    }

    /// Whether `org` exists and has a custom role `key`.
    pub fn custom_role_exists(&self, org: &str, key: &str) -> bool {
        self.orgs
            .get(org)
            .is_some_and(|o| o.custom_roles.iter().any(|k| &**k == key))
    }

    pub fn workspace(&self, ws: &str) -> Option<&WorkspaceEntry> {
        self.workspaces.get(ws).map(|w| &**w)
    }

    pub fn user(&self, user: &str) -> Option<&UserRoles> {
        self.users.get(user).map(|u| &**u)
    }

    /// A user's roles as shared: a patch gives a changed user new roles,
    /// so callers may key what they derive from them on the pointer.
    pub fn user_roles(&self, user: &str) -> Option<&Arc<UserRoles>> {
        self.users.get(user)
    }

    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// A new snapshot where organization `org` is as `access` says (or gone,
    /// for `None`), at data revision `revision`. Costs O(size of that org).
    pub fn with_org(&self, org: &str, access: Option<OrgAccess>, revision: u64) -> Self {
        let mut next = self.clone();
        next.revision = revision;
        next.generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        let org: Arc<str> = Arc::from(org);

        // Forget everything the old version of the org put in place.
        let mut touched: HashSet<Arc<str>> = HashSet::new();
        if let Some(old) = next.orgs.remove(&org) {
            touched.extend(old.members.iter().cloned());
            for ws in &old.workspaces {
                if let Some(entry) = next.workspaces.remove(ws) {
                    touched.extend(entry.members.iter().cloned());
                }
            }
        }
        let mut roles: std::collections::HashMap<Arc<str>, UserRoles> = touched
            .into_iter()
            .map(|user| {
                let mut r = next
                    .users
                    .get(&user)
                    .map(|u| (**u).clone())
                    .unwrap_or_default();
                r.orgs.retain(|(o, _)| *o != org);
                r.workspaces.retain(|(o, _, _)| *o != org);
                (user, r)
            })
            .collect();

        // Put the new version in.
        if let Some(access) = access {
            let users = next.users.clone();
            let entry = next.index_org(&org, access, |user, apply| {
                let key: Arc<str> = match users.get_key_value(user) {
                    Some((key, _)) => key.clone(),
                    None => Arc::from(user),
                };
                let r = roles
                    .entry(key.clone())
                    .or_insert_with(|| users.get(user).map(|u| (**u).clone()).unwrap_or_default());
                apply(r);
                key
            });
            next.orgs.insert(org, Arc::new(entry));
        }
        for (user, r) in roles {
            if r.is_empty() {
                next.users.remove(&user);
            } else {
                next.users.insert(user, Arc::new(r));
            }
        }
        next
    }

    /// Indexes one organization's workspaces, and hands each user's new roles
    /// to `user_roles` (which knows where that user's roles live and returns
    /// the shared id of the user).
    fn index_org(
        &mut self,
        org: &Arc<str>,
        access: OrgAccess,
        mut user_roles: impl FnMut(&str, &mut dyn FnMut(&mut UserRoles)) -> Arc<str>,
    ) -> OrgEntry {
        let mut entry = OrgEntry {
            custom_roles: access.custom_roles.into_iter().map(Into::into).collect(),
            ..OrgEntry::default()
        };
        for (user, role) in access.members {
            let user = user_roles(&user, &mut |r| r.orgs.push((org.clone(), role.clone())));
            entry.members.push(user);
        }
        for ws in access.workspaces {
            let ws_id: Arc<str> = Arc::from(ws.workspace_id.as_str());
            let mut members = Vec::with_capacity(ws.members.len());
            for (user, role) in ws.members {
                let (o, w) = (org.clone(), ws_id.clone());
                let user = user_roles(&user, &mut |r| {
                    r.workspaces.push((o.clone(), w.clone(), role))
                });
                members.push(user);
            }
            self.workspaces.insert(
                ws_id.clone(),
                Arc::new(WorkspaceEntry {
                    org: org.clone(),
                    members,
                }),
            );
            entry.workspaces.push(ws_id);
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OrgRole, WorkspaceAccess};

    fn acme() -> OrgAccess {
        OrgAccess {
            org_id: "acme".into(),
            members: vec![
                ("alice".into(), OrgRole::Owner.into()),
                ("bob".into(), OrgRole::Member.into()),
            ],
            workspaces: vec![WorkspaceAccess {
                workspace_id: "ws1".into(),
                members: vec![("bob".into(), WorkspaceRole::Admin)],
            }],
            ..OrgAccess::default()
        }
    }

    #[test]
    fn patching_an_org_matches_a_full_build() {
        let globex = OrgAccess {
            org_id: "globex".into(),
            members: vec![("bob".into(), OrgRole::Admin.into())],
            ..OrgAccess::default()
        };
        let base = Snapshot::build(vec![acme(), globex.clone()], 1);
        assert_eq!(base.user("bob").unwrap().orgs.len(), 2);

        // bob leaves acme (and so its workspace); carol joins.
        let mut changed = acme();
        changed.members = vec![
            ("alice".into(), OrgRole::Owner.into()),
            ("carol".into(), OrgRole::Accounting.into()),
        ];
        changed.workspaces[0].members.clear();
        let patched = base.with_org("acme", Some(changed.clone()), 2);
        let rebuilt = Snapshot::build(vec![changed, globex], 2);
        for user in ["alice", "bob", "carol"] {
            assert_eq!(patched.user(user), rebuilt.user(user), "{user}");
        }
        assert_eq!(patched.revision(), 2);
        // The old snapshot is untouched.
        assert_eq!(base.user("bob").unwrap().workspaces.len(), 1);
    }

    #[test]
    fn removing_an_org_forgets_its_users_and_workspaces() {
        let base = Snapshot::build(vec![acme()], 1);
        let gone = base.with_org("acme", None, 2);
        assert!(!gone.org_exists("acme"));
        assert!(gone.workspace("ws1").is_none());
        assert!(gone.user("alice").is_none());
        assert_eq!(gone.user_count(), 0);
    }
}
