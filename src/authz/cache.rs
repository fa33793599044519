//! Built Cedar entities of organizations and workspaces, kept between
//! decisions so a request clones an `Arc` instead of rebuilding them.
//!
//! The cache is keyed by content, not by data revision: an organization's
//! entity is a function of its id alone (its attributes are the ids of its
//! role groups), a workspace's entity a function of its id and its
//! organization's id, and a user's entity a function of the user's roles,
//! which the snapshot shares behind one `Arc` per version. Every hit checks
//! the workspace's organization, or that the roles are the same `Arc`, so no
//! write and no snapshot swap can make an entry stale, and nothing needs
//! invalidating. (The cached `Arc` of roles is held, so its address cannot
//! be reused by other roles while the entry exists.)

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use cedar_policy_core::ast;

use crate::snapshot::UserRoles;

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

    /// What `read` makes of the entry of `key`, if there is one.
    pub fn get<Q, R>(&self, key: &Q, read: impl FnOnce(&V) -> Option<R>) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.lock().get(key).and_then(read)
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

/// Organization, workspace and user entities, shared by every decision.
#[derive(Debug)]
pub struct EntityCache {
    orgs: Bounded<Box<str>, Arc<ast::Entity>>,
    /// Workspace id → (its organization's id, its entity).
    workspaces: Bounded<Box<str>, (Arc<str>, Arc<ast::Entity>)>,
    /// User id → (the roles it was built from, its entity).
    users: Bounded<Box<str>, (Arc<UserRoles>, Arc<ast::Entity>)>,
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
    /// The entity of organization `id`, built by `build` when not cached.
    pub fn org(
        &self,
        id: &str,
        build: impl FnOnce() -> Result<ast::Entity, String>,
    ) -> Result<Arc<ast::Entity>, String> {
        if let Some(hit) = self.orgs.get(id, |e| Some(e.clone())) {
            return Ok(hit);
        }
        // Built outside the lock so other decisions are not held up by it.
        let entity = Arc::new(build()?);
        self.orgs.insert(id.into(), entity.clone());
        Ok(entity)
    }

    /// The entity of workspace `id` of organization `org`, built by `build`
    /// when not cached or cached for another organization.
    pub fn workspace(
        &self,
        id: &str,
        org: &Arc<str>,
        build: impl FnOnce() -> Result<ast::Entity, String>,
    ) -> Result<Arc<ast::Entity>, String> {
        let hit = self
            .workspaces
            .get(id, |(cached_org, e)| (cached_org == org).then(|| e.clone()));
        if let Some(hit) = hit {
            return Ok(hit);
        }
        let entity = Arc::new(build()?);
        self.workspaces
            .insert(id.into(), (org.clone(), entity.clone()));
        Ok(entity)
    }

    /// The entity of user `id` holding `roles`, built by `build` when not
    /// cached or cached from other roles.
    pub fn user(
        &self,
        id: &str,
        roles: &Arc<UserRoles>,
        build: impl FnOnce() -> ast::Entity,
    ) -> Arc<ast::Entity> {
        let hit = self.users.get(id, |(cached_roles, e)| {
            Arc::ptr_eq(cached_roles, roles).then(|| e.clone())
        });
        if let Some(hit) = hit {
            return hit;
        }
        let entity = Arc::new(build());
        self.users
            .insert(id.into(), (roles.clone(), entity.clone()));
        entity
    }
}
