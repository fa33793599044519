//! Serving custom roles, and the questions their rules ask: which
//! permissions are grantable, whether a user holds a permission across a
//! whole organization (no one grants what they do not hold), and what a
//! role effectively allows.

use std::sync::{Arc, PoisonError};

use cedar_policy::{Context, EntityId, EntityUid, Request};
use serde_json::json;

use super::load::{LoadError, PolicyBundle};
use super::roles::{self, Grantable, RoleGrants, RoleMap};
use super::{assemble, slice, Authz};
use crate::model::{OrgAccess, RoleKey};
use crate::snapshot::Snapshot;

/// A serving set with one organization's custom roles replaced: validated,
/// not serving yet (the change that made it has not committed).
#[derive(Debug)]
pub struct PreparedRoles {
    bundle: Arc<PolicyBundle>,
    /// The set it was made from; when another serves at install, the
    /// organization's roles are laid on that one instead.
    base: Arc<PolicyBundle>,
    org: String,
    roles: Vec<RoleGrants>,
}

impl PreparedRoles {
    /// How many generated grant policies the prepared set holds, across
    /// every organization.
    pub fn grant_count(&self) -> usize {
        roles::grant_count(&self.bundle)
    }
}

/// The user id that stands for "a holder of this role and nothing else";
/// `#` never occurs in a real id.
const PROBE_USER: &str = "#probe";

impl Authz {
    /// The permissions custom roles may hold, sorted by action.
    pub fn grantable(&self) -> Vec<Grantable> {
        self.current.load().grantable.clone()
    }

    /// How many generated grant policies the serving set holds, across
    /// every organization.
    pub fn grant_count(&self) -> usize {
        roles::grant_count(&self.current.load())
    }

    /// Checks that the serving set with `org`'s custom roles being `roles`
    /// is valid, without serving it. Only `org`'s policies are generated
    /// and validated.
    pub fn prepare_org_roles(
        &self,
        org: &str,
        roles: Vec<RoleGrants>,
    ) -> Result<PreparedRoles, LoadError> {
        let base = self.current.load_full();
        let bundle = roles::with_org_roles(&base, org, roles.clone())?;
        Ok(PreparedRoles {
            bundle: Arc::new(bundle),
            base,
            org: org.to_owned(),
            roles,
        })
    }

    /// Serves a prepared set. When another set serves by now (the files
    /// were reloaded in between), the organization's roles are laid on that
    /// one instead, which holds every other organization's roles already.
    pub fn install_roles(&self, prepared: PreparedRoles) {
        let _guard = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        let bundle = if Arc::ptr_eq(&current, &prepared.base) {
            prepared.bundle
        } else {
            match roles::with_org_roles(&current, &prepared.org, prepared.roles) {
                Ok(bundle) => Arc::new(bundle),
                Err(e) => {
                    // Cannot happen short of a schema change racing the
                    // role change; the roles apply at the next reload.
                    tracing::error!(error = %e, "custom roles do not fit the reloaded policy set");
                    return;
                }
            }
        };
        self.current.store(bundle);
    }

    /// Serves the files with every organization's custom roles (at start,
    /// and for the command-line tools).
    pub fn set_all_roles(&self, map: RoleMap) -> Result<(), LoadError> {
        let _guard = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let bundle = roles::with_roles(&self.current.load(), &map)?;
        self.current.store(Arc::new(bundle));
        Ok(())
    }

    /// The files of this set with `map` as the only custom roles, as a new
    /// decision point (policy tests declare their own roles).
    pub fn with_only_roles(&self, map: RoleMap) -> Result<Authz, LoadError> {
        let bundle = roles::with_roles(&self.current.load(), &map)?;
        Ok(Self::with_bundle(
            &self.policies_dir,
            &self.schema_dir,
            bundle,
        ))
    }

    /// The serving custom roles re-applied on a freshly loaded file set
    /// (whose schema may differ: every organization's policies are
    /// generated and validated again).
    pub(super) fn with_current_roles(
        &self,
        files: PolicyBundle,
    ) -> Result<PolicyBundle, LoadError> {
        let map = roles::role_map(&self.current.load());
        if map.is_empty() {
            return Ok(files);
        }
        roles::with_roles(&files, &map)
    }

    /// Whether `user` may perform `action` on organization `org` and, for an
    /// action on workspaces, on every workspace of it (a workspace with no
    /// members of its own stands for them all). Actions that take the role
    /// being granted are asked for the weakest grant, `member`.
    pub fn holds(&self, snapshot: &Snapshot, user: &str, org: &str, action: &str) -> bool {
        let bundle = self.current.load();
        let Some(action_uid) = uid(&bundle, "Action", action) else {
            return false;
        };
        let Some(resources) = bundle.schema.resources_for_action(&action_uid) else {
            return false;
        };
        let resources: Vec<String> = resources.map(ToString::to_string).collect();
        let mut asked = false;
        for (kind, id) in [("Organization", org), ("Workspace", slice::PROBE_WORKSPACE)] {
            if !resources.iter().any(|r| r == kind) {
                continue;
            }
            asked = true;
            if !self.allowed_on(&bundle, snapshot, user, org, &action_uid, kind, id) {
                return false;
            }
        }
        asked
    }

    #[allow(clippy::too_many_arguments)]
    fn allowed_on(
        &self,
        bundle: &PolicyBundle,
        snapshot: &Snapshot,
        user: &str,
        org: &str,
        action: &EntityUid,
        kind: &str,
        id: &str,
    ) -> bool {
        let (Some(principal), Some(resource)) = (uid(bundle, "User", user), uid(bundle, kind, id))
        else {
            return false;
        };
        // A cache of its own: these questions are about stand-in users and
        // workspaces that must not linger in the decision caches.
        let cache = super::cache::EntityCache::default();
        let Ok(slice) = slice::SliceBuilder::new(snapshot, &cache) else {
            return false;
        };
        let mut slice = slice.with_probe(org);
        slice.want(&principal);
        slice.want(&resource);
        let context = weakest_context(bundle, action);
        let Ok(request) = Request::new(
            principal,
            action.clone(),
            resource,
            context,
            Some(&bundle.schema),
        ) else {
            return false;
        };
        assemble(bundle, Vec::new(), slice)
            .map(|entities| {
                self.evaluate(bundle, &request, &entities, snapshot.revision())
                    .allowed()
            })
            .unwrap_or(false)
    }

    /// The grantable permissions a holder of `role` in `org`, and of nothing
    /// else, has: for built-in roles, what the policies give them.
    pub fn effective_permissions(&self, org: &str, role: &RoleKey) -> Vec<String> {
        let snapshot = Snapshot::build(
            vec![OrgAccess {
                org_id: org.to_owned(),
                members: vec![(PROBE_USER.to_owned(), role.clone())],
                workspaces: Vec::new(),
                custom_roles: role.custom().map(str::to_owned).into_iter().collect(),
            }],
            0,
        );
        self.grantable()
            .into_iter()
            .filter(|g| self.holds(&snapshot, PROBE_USER, org, &g.action))
            .map(|g| g.action)
            .collect()
    }
}

fn uid(bundle: &PolicyBundle, kind: &str, id: &str) -> Option<EntityUid> {
    bundle
        .types
        .get(kind)
        .map(|t| EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id)))
}

/// The context of the weakest request of `action`: none, or granting `member`.
fn weakest_context(bundle: &PolicyBundle, action: &EntityUid) -> Context {
    let candidates = [
        json!({}),
        json!({"role": "member"}),
        json!({"role": "member", "current_role": "member", "new_role": "member"}),
    ];
    candidates
        .into_iter()
        .find_map(|c| Context::from_json_value(c, Some((&bundle.schema, action))).ok())
        .unwrap_or_else(Context::empty)
}
