//! Built Cedar entities of organizations, workspaces and users, kept
//! between decisions so a request clones an `Arc` instead of rebuilding
//! them. An organization or workspace is kept with the role groups its
//! attributes name, which a policy can reach through it.
//!
//! Entries are keyed by content, not by data revision: an organization's
//! entity is a function of its id alone (its attributes are the ids of its
//! role groups), a workspace's entity a function of its id and its
//! organization's id, and a user's entity a function of the user's roles,
//! which the snapshot shares behind one `Arc` per version. A hit is checked
//! against the snapshot of the decision (same organization, or the very
//! same roles `Arc`), so no write and no snapshot swap can make an entry
//! stale and nothing needs invalidating. The check is skipped when the
//! entry was already found right in that snapshot's generation: looking a
//! user up among a million was a fifth of a decision. (The cached roles
//! `Arc` is held, so its address cannot be reused while the entry exists.)

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use cedar_policy_core::ast;

use crate::snapshot::{Snapshot, UserRoles};

/// Most entries per kind. Each is about 1 KB; the bound keeps memory flat
/// at any number of organizations.
const CAPACITY: usize = 16 * 1024;

/// A map shared by concurrent decisions, emptied when full: cheaper than
/// tracking recency on every hit, and refilled by the next decisions.
#[derive(Debug)]
pub struct Bounded<K, V> {
    map: Mutex<HashMap<K, V>>,
    capacity: usize,
}

impl<K: Eq + Hash, V> Bounded<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// What `read` makes of the entry of `key`, if there is one (it may
    /// update the entry).
    pub fn get<Q, R>(&self, key: &Q, read: impl FnOnce(&mut V) -> Option<R>) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().get_mut(key).and_then(read)
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // A panic elsewhere cannot leave the map half-updated in a way that
        // matters: every entry is complete when inserted.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An organization's or workspace's entity first, then the entities of the
/// role groups its attributes name.
pub type Group = Arc<[Arc<ast::Entity>]>;

/// A workspace's organization id and its entities.
pub type OrgAndEntity = (Arc<str>, Group);

/// A workspace's entity, the organization it was built for, and the
/// snapshot generation it was last found right in.
#[derive(Debug)]
struct WorkspaceEntry {
    checked: u64,
    org: Arc<str>,
    entity: Group,
}

/// A user's entity, the roles it was built from (`None`: none at all), and
/// the snapshot generation it was last found right in.
#[derive(Debug)]
struct UserEntry {
    checked: u64,
    roles: Option<Arc<UserRoles>>,
    entity: Arc<ast::Entity>,
}

/// Organization, workspace and user entities, shared by every decision.
#[derive(Debug)]
pub struct EntityCache {
    orgs: Bounded<Box<str>, Group>,
    workspaces: Bounded<Box<str>, WorkspaceEntry>,
    users: Bounded<Box<str>, UserEntry>,
}

impl Default for EntityCache {
    fn default() -> Self {
        Self {
            orgs: Bounded::new(CAPACITY),
            workspaces: Bounded::new(CAPACITY),
            users: Bounded::new(CAPACITY),
        }
    }
}

impl EntityCache {
    /// The entities of organization `id`, built by `build` when not cached
    /// (callers check that the organization exists).
    pub fn org(
        &self,
        id: &str,
        build: impl FnOnce() -> Result<Vec<ast::Entity>, String>,
    ) -> Result<Group, String> {
        if let Some(hit) = self.orgs.get(id, |e| Some(e.clone())) {
            return Ok(hit);
        }
        // Built outside the lock so other decisions are not held up by it.
        let entity: Group = build()?.into_iter().map(Arc::new).collect();
        self.orgs.insert(id.into(), entity.clone());
        Ok(entity)
    }

    /// The organization of workspace `id` in `snapshot` and the
    /// workspace's entity, built by `build` (from the organization's id)
    /// when not cached or cached for another organization; `None` for a
    /// workspace the snapshot does not hold.
    pub fn workspace(
        &self,
        id: &str,
        snapshot: &Snapshot,
        build: impl FnOnce(&Arc<str>) -> Result<Vec<ast::Entity>, String>,
    ) -> Result<Option<OrgAndEntity>, String> {
        let generation = snapshot.generation();
        let found = |e: &mut WorkspaceEntry| Some((e.org.clone(), e.entity.clone()));
        // Already found right in this very snapshot: no need to look in it.
        if let Some(hit) = self.workspaces.get(id, |e| {
            if e.checked == generation {
                found(e)
            } else {
                None
            }
        }) {
            return Ok(Some(hit));
        }
        let Some(ws) = snapshot.workspace(id) else {
            return Ok(None);
        };
        if let Some(hit) = self.workspaces.get(id, |e| {
            if e.org == ws.org {
                e.checked = generation;
                found(e)
            } else {
                None
            }
        }) {
            return Ok(Some(hit));
        }
        let entity: Group = build(&ws.org)?.into_iter().map(Arc::new).collect();
        let entry = WorkspaceEntry {
            checked: generation,
            org: ws.org.clone(),
            entity: entity.clone(),
        };
        self.workspaces.insert(id.into(), entry);
        Ok(Some((ws.org.clone(), entity)))
    }

    /// The entity of user `id` in `snapshot`, built by `build` (from the
    /// user's roles) when not cached or cached from other roles.
    pub fn user(
        &self,
        id: &str,
        snapshot: &Snapshot,
        build: impl FnOnce(Option<&UserRoles>) -> ast::Entity,
    ) -> Arc<ast::Entity> {
        let generation = snapshot.generation();
        if let Some(hit) = self
            .users
            .get(id, |e| (e.checked == generation).then(|| e.entity.clone()))
        {
            return hit;
        }
        let roles = snapshot.user_roles(id);
        if let Some(hit) = self.users.get(id, |e| {
            let same = match (&e.roles, roles) {
                (Some(cached), Some(now)) => Arc::ptr_eq(cached, now),
                (None, None) => true,
                _ => false,
            };
            same.then(|| {
                e.checked = generation;
                e.entity.clone()
            })
        }) {
            return hit;
        }
        let entity = Arc::new(build(roles.map(|r| &**r)));
        let entry = UserEntry {
            checked: generation,
            roles: roles.cloned(),
            entity: entity.clone(),
        };
        self.users.insert(id.into(), entry);
        entity
    }
}
