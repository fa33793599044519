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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use cedar_policy_core::ast;

use crate::snapshot::UserRoles;

/// Most entries per kind. Each is about 1 KB; the bound keeps memory flat
/// at any number of organizations. A full map is simply emptied: cheaper
/// than tracking recency on every hit, and refilled by the next decisions.
const CAPACITY: usize = 16 * 1024;

/// One kind of entry, by entity id.
type Entries<V> = Mutex<HashMap<Box<str>, V>>;

/// Organization, workspace and user entities, shared by every decision.
#[derive(Debug, Default)]
pub struct EntityCache {
    orgs: Entries<Arc<ast::Entity>>,
    /// Workspace id → (its organization's id, its entity).
    workspaces: Entries<(Arc<str>, Arc<ast::Entity>)>,
    /// User id → (the roles it was built from, its entity).
    users: Entries<(Arc<UserRoles>, Arc<ast::Entity>)>,
}

impl EntityCache {
    /// The entity of organization `id`, built by `build` when not cached.
    pub fn org(
        &self,
        id: &str,
        build: impl FnOnce() -> Result<ast::Entity, String>,
    ) -> Result<Arc<ast::Entity>, String> {
        if let Some(hit) = lock(&self.orgs).get(id) {
            return Ok(hit.clone());
        }
        // Built outside the lock so other decisions are not held up by it.
        let entity = Arc::new(build()?);
        insert(&self.orgs, id, entity.clone());
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
        if let Some((cached_org, hit)) = lock(&self.workspaces).get(id) {
            if cached_org == org {
                return Ok(hit.clone());
            }
        }
        let entity = Arc::new(build()?);
        insert(&self.workspaces, id, (org.clone(), entity.clone()));
        Ok(entity)
    }
}

impl EntityCache {
    /// The entity of user `id` holding `roles`, built by `build` when not
    /// cached or cached from other roles.
    pub fn user(
        &self,
        id: &str,
        roles: &Arc<UserRoles>,
        build: impl FnOnce() -> ast::Entity,
    ) -> Arc<ast::Entity> {
        if let Some((cached_roles, hit)) = lock(&self.users).get(id) {
            if Arc::ptr_eq(cached_roles, roles) {
                return hit.clone();
            }
        }
        let entity = Arc::new(build());
        insert(&self.users, id, (roles.clone(), entity.clone()));
        entity
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a map half-updated in a way that
    // matters: every entry is complete when inserted.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn insert<V>(map: &Entries<V>, id: &str, value: V) {
    let mut map = lock(map);
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(id.into(), value);
}
