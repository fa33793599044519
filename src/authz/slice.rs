//! Building the entities of one decision: only what the request can touch.
//! The principal with its role groups, the resource with its ancestors, the
//! request's own entities, and the sidecar entities those name. Nothing here
//! reads the database or grows with the number of users or organizations.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression, Schema,
};
use cedar_policy_core::ast;
use serde_json::Value;

use super::cache::EntityCache;
use crate::model::{OrgRole, RoleKey, WorkspaceRole};
use crate::snapshot::{Snapshot, UserRoles};

/// The entity types the sidecar owns and builds from its database.
pub const SIDECAR_TYPES: [&str; 4] = ["User", "Organization", "Workspace", "Role"];

/// Most entities a request may supply.
pub const MAX_REQUEST_ENTITIES: usize = 1000;

/// The parsed names of the sidecar's types, made once.
struct Types {
    user: EntityTypeName,
    org: EntityTypeName,
    workspace: EntityTypeName,
    role: EntityTypeName,
}

static TYPES: LazyLock<Option<Types>> = LazyLock::new(|| {
    Some(Types {
        user: EntityTypeName::from_str("User").ok()?,
        org: EntityTypeName::from_str("Organization").ok()?,
        workspace: EntityTypeName::from_str("Workspace").ok()?,
        role: EntityTypeName::from_str("Role").ok()?,
    })
});

fn types() -> Result<&'static Types, String> {
    TYPES
        .as_ref()
        .ok_or_else(|| "internal: sidecar type names do not parse".to_owned())
}

/// Whether `uid` is of a type the sidecar owns.
pub fn is_sidecar_type(type_name: &EntityTypeName) -> bool {
    match TYPES.as_ref() {
        Some(t) => [&t.user, &t.org, &t.workspace, &t.role].contains(&type_name),
        // Cannot happen (the names are literals); refuse rather than allow.
        None => true,
    }
}

/// Whether `type_name` is the role-group type.
pub fn is_role_type(type_name: &EntityTypeName) -> bool {
    TYPES.as_ref().is_none_or(|t| &t.role == type_name)
}

pub fn org_role_id(org: &str, role: OrgRole) -> String {
    format!("{org}#{}", role.as_str())
}

/// The role group of custom role `key` of `org`: a child of `{org}#member`,
/// so a holder is a member plus the role's own grants.
pub fn custom_role_id(org: &str, key: &str) -> String {
    format!("{org}#{CUSTOM_PREFIX}{key}")
}

const CUSTOM_PREFIX: &str = "custom:";

/// The id of the workspace used to ask whether a grant covers every
/// workspace of an organization: `#` never occurs in a real id.
pub const PROBE_WORKSPACE: &str = "#probe";

/// The role groups a holder of `role` in `org` is a child of.
pub fn org_groups(org: &str, role: &RoleKey) -> Vec<String> {
    match role {
        RoleKey::Builtin(r) => r.groups().iter().map(|g| org_role_id(org, *g)).collect(),
        RoleKey::Custom(key) => vec![custom_role_id(org, key), org_role_id(org, OrgRole::Member)],
    }
}

pub fn workspace_role_id(org: &str, ws: &str, role: WorkspaceRole) -> String {
    format!("{org}/{ws}#{}", role.as_str())
}

fn uid(type_name: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id))
}

/// The core form of a uid, as the entity store holds it.
fn core_uid(type_name: &EntityTypeName, id: &str) -> ast::EntityUID {
    uid(type_name, id).into()
}

/// An entity without attributes whose `parents` already hold all its
/// ancestors (so the store needs no closure computed for it).
fn closed_entity(uid: EntityUid, parents: HashSet<ast::EntityUID>) -> ast::Entity {
    ast::Entity::new_with_attr_partial_value(uid.into(), [], HashSet::new(), parents, [])
}

/// Collects the sidecar entities a request needs.
pub struct SliceBuilder<'s> {
    snapshot: &'s Snapshot,
    cache: &'s EntityCache,
    types: &'static Types,
    seen: HashSet<EntityUid>,
    queue: Vec<EntityUid>,
    /// The organization of [`PROBE_WORKSPACE`], when a request asks about
    /// every workspace of one organization.
    probe_org: Option<&'s str>,
}

impl std::fmt::Debug for SliceBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SliceBuilder")
            .field("seen", &self.seen.len())
            .finish()
    }
}

impl<'s> SliceBuilder<'s> {
    pub fn new(snapshot: &'s Snapshot, cache: &'s EntityCache) -> Result<Self, String> {
        Ok(Self {
            snapshot,
            cache,
            types: types()?,
            seen: HashSet::new(),
            queue: Vec::new(),
            probe_org: None,
        })
    }

    /// Builds [`PROBE_WORKSPACE`] as a workspace of `org` with no members
    /// of its own: what is allowed on it is allowed on every workspace.
    pub fn with_probe(mut self, org: &'s str) -> Self {
        self.probe_org = Some(org);
        self
    }

    /// Asks for `uid` (and what it points to) if it is a sidecar entity.
    pub fn want(&mut self, uid: &EntityUid) {
        if is_sidecar_type(uid.type_name()) && self.seen.insert(uid.clone()) {
            self.queue.push(uid.clone());
        }
    }

    /// Asks for every entity reference found anywhere in a JSON value
    /// (`{"__entity": {...}}` or a bare `{"type", "id"}` object).
    pub fn want_refs_in(&mut self, value: &Value) {
        let mut found = Vec::new();
        self.refs_in(value, &mut found);
        self.want_all(&found);
    }

    /// Asks for each of `uids`.
    pub fn want_all(&mut self, uids: &[EntityUid]) {
        uids.iter().for_each(|uid| self.want(uid));
    }

    /// Adds to `out` every sidecar entity referenced anywhere in `value`.
    pub fn refs_in(&self, value: &Value, out: &mut Vec<EntityUid>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.refs_in(v, out)),
            Value::Object(map) => {
                if let Some(inner) = map.get("__entity") {
                    self.json_uid(inner, out);
                } else if map.len() == 2 && map.contains_key("type") && map.contains_key("id") {
                    self.json_uid(value, out);
                }
                map.values().for_each(|v| self.refs_in(v, out));
            }
            _ => {}
        }
    }

    fn json_uid(&self, value: &Value, out: &mut Vec<EntityUid>) {
        // The plain form needs no parser: JSON type names are compared in
        // normalized form, so only these exact strings name sidecar types.
        if let Some((kind, id)) = value.as_object().and_then(super::plain_type_and_id) {
            let t = self.types;
            let name = match kind {
                "User" => &t.user,
                "Organization" => &t.org,
                "Workspace" => &t.workspace,
                "Role" => &t.role,
                _ => return,
            };
            out.push(uid(name, id));
        } else if let Ok(uid) = EntityUid::from_json(value.clone()) {
            if is_sidecar_type(uid.type_name()) {
                out.push(uid);
            }
        }
    }

    /// The sidecar entities asked for, with everything they lead to. Each
    /// one's ancestors are complete: users name every role group they hold
    /// (rank included), role groups every group above them, workspaces their
    /// organization, which has no parents. Only entities that exist are
    /// built: an unknown organization, workspace or role group is absent,
    /// as in the database, so a policy reading it fails (and so denies)
    /// instead of finding an empty one.
    pub fn build(mut self) -> Result<Vec<Arc<ast::Entity>>, String> {
        let mut out = Vec::new();
        while let Some(next) = self.queue.pop() {
            self.entity(&next, &mut out)?;
        }
        Ok(out)
    }

    /// Adds the entities of a cached group; its role groups only when not
    /// asked for on their own (each entity is built once).
    fn add_group(&mut self, group: &[Arc<ast::Entity>], out: &mut Vec<Arc<ast::Entity>>) {
        let mut items = group.iter();
        if let Some(first) = items.next() {
            out.push(first.clone());
        }
        for role in items {
            if self.seen.insert(EntityUid::from(role.uid().clone())) {
                out.push(role.clone());
            }
        }
    }

    fn entity(
        &mut self,
        wanted: &EntityUid,
        out: &mut Vec<Arc<ast::Entity>>,
    ) -> Result<(), String> {
        let t = self.types;
        let id = wanted.id().unescaped();
        let name = wanted.type_name();
        if name == &t.user {
            let build = |roles: Option<&UserRoles>| {
                let mut parents = HashSet::new();
                // `org_groups()` lists a role and every group it belongs to,
                // so the parents are already all the user's ancestors.
                for (org, role) in roles.iter().flat_map(|r| &r.orgs) {
                    for group in org_groups(org, role) {
                        parents.insert(core_uid(&t.role, &group));
                    }
                }
                for (org, ws, role) in roles.iter().flat_map(|r| &r.workspaces) {
                    for group in role.groups() {
                        parents.insert(core_uid(&t.role, &workspace_role_id(org, ws, *group)));
                    }
                }
                closed_entity(wanted.clone(), parents)
            };
            out.push(self.cache.user(id, self.snapshot, build));
        } else if name == &t.org {
            if !self.snapshot.org_exists(id) {
                return Ok(());
            }
            let group = self.cache.org(id, || org_entities(t, wanted.clone(), id))?;
            self.add_group(&group, out);
        } else if name == &t.workspace {
            // The stand-in workspace of a permission check: never cached.
            if let Some(org) = self.probe_org {
                if id == PROBE_WORKSPACE {
                    let org_uid = uid(&t.org, org);
                    self.want(&org_uid);
                    let group: Vec<Arc<ast::Entity>> =
                        workspace_entities(t, wanted.clone(), org, id, org_uid)?
                            .into_iter()
                            .map(Arc::new)
                            .collect();
                    self.add_group(&group, out);
                    return Ok(());
                }
            }
            let found = self.cache.workspace(id, self.snapshot, |org| {
                workspace_entities(t, wanted.clone(), org, id, uid(&t.org, org))
            })?;
            let Some((org, group)) = found else {
                return Ok(());
            };
            self.want(&uid(&t.org, &org));
            self.add_group(&group, out);
        } else if name == &t.role && self.role_exists(id) {
            if let Some(entity) = role_entity(t, wanted.clone(), id) {
                out.push(Arc::new(entity));
            }
        }
        Ok(())
    }

    /// Whether role group `id` exists: a built-in group of an existing
    /// organization, a group of an existing workspace of that organization,
    /// or an existing custom role.
    fn role_exists(&self, id: &str) -> bool {
        let Some((scope, role)) = id.rsplit_once('#') else {
            return false;
        };
        if let Some((org, ws)) = scope.split_once('/') {
            let probe = self.probe_org == Some(org) && ws == PROBE_WORKSPACE;
            probe || self.snapshot.workspace(ws).is_some_and(|w| &*w.org == org)
        } else if let Some(key) = role.strip_prefix(CUSTOM_PREFIX) {
            self.snapshot.custom_role_exists(scope, key)
        } else {
            self.snapshot.org_exists(scope)
        }
    }
}

/// An organization's entity, then its four role groups.
fn org_entities(t: &Types, org_uid: EntityUid, org: &str) -> Result<Vec<ast::Entity>, String> {
    let mut out = vec![AsRef::<ast::Entity>::as_ref(&org_entity(t, org_uid, org)?).clone()];
    for role in [
        OrgRole::Owner,
        OrgRole::Admin,
        OrgRole::Accounting,
        OrgRole::Member,
    ] {
        let id = org_role_id(org, role);
        out.extend(role_entity(t, uid(&t.role, &id), &id));
    }
    Ok(out)
}

/// A workspace's entity, then its two role groups.
fn workspace_entities(
    t: &Types,
    ws_uid: EntityUid,
    org: &str,
    ws: &str,
    org_uid: EntityUid,
) -> Result<Vec<ast::Entity>, String> {
    let entity = workspace_entity(t, ws_uid, org, ws, org_uid)?;
    let mut out = vec![AsRef::<ast::Entity>::as_ref(&entity).clone()];
    for role in [WorkspaceRole::Admin, WorkspaceRole::Member] {
        let id = workspace_role_id(org, ws, role);
        out.extend(role_entity(t, uid(&t.role, &id), &id));
    }
    Ok(out)
}

fn org_entity(t: &Types, org_uid: EntityUid, org: &str) -> Result<Entity, String> {
    let role = |r| RestrictedExpression::new_entity_uid(uid(&t.role, &org_role_id(org, r)));
    let attrs = HashMap::from([
        ("owners".to_owned(), role(OrgRole::Owner)),
        ("admins".to_owned(), role(OrgRole::Admin)),
        ("accounting".to_owned(), role(OrgRole::Accounting)),
        ("members".to_owned(), role(OrgRole::Member)),
    ]);
    Entity::new(org_uid, attrs, HashSet::new()).map_err(|e| e.to_string())
}

fn workspace_entity(
    t: &Types,
    ws_uid: EntityUid,
    org: &str,
    ws: &str,
    org_uid: EntityUid,
) -> Result<Entity, String> {
    let role =
        |r| RestrictedExpression::new_entity_uid(uid(&t.role, &workspace_role_id(org, ws, r)));
    let attrs = HashMap::from([
        (
            "org".to_owned(),
            RestrictedExpression::new_entity_uid(org_uid.clone()),
        ),
        ("admins".to_owned(), role(WorkspaceRole::Admin)),
        ("members".to_owned(), role(WorkspaceRole::Member)),
    ]);
    Entity::new(ws_uid, attrs, HashSet::from([org_uid])).map_err(|e| e.to_string())
}

/// A role group, with every group above it as a parent (so no other role
/// entity is needed to know its ancestors).
fn role_entity(t: &Types, role_uid: EntityUid, id: &str) -> Option<ast::Entity> {
    let (scope, role) = id.rsplit_once('#')?;
    let parents: HashSet<ast::EntityUID> = if scope.contains('/') {
        let (org, ws) = scope.split_once('/')?;
        let role = WorkspaceRole::from_str(role).ok()?;
        role.groups()
            .iter()
            .skip(1)
            .map(|g| core_uid(&t.role, &workspace_role_id(org, ws, *g)))
            .collect()
    } else if let Some(key) = role.strip_prefix(CUSTOM_PREFIX) {
        if !crate::model::is_valid_role_key(key) {
            return None;
        }
        HashSet::from([core_uid(&t.role, &org_role_id(scope, OrgRole::Member))])
    } else {
        let role = OrgRole::from_str(role).ok()?;
        role.groups()
            .iter()
            .skip(1)
            .map(|g| core_uid(&t.role, &org_role_id(scope, *g)))
            .collect()
    };
    Some(closed_entity(role_uid, parents))
}

/// Checks at load time that `schema` declares the sidecar's types in the
/// shape the sidecar builds them, so a schema edit cannot make every
/// decision fail.
pub fn check_schema_shape(schema: &Schema) -> Result<(), String> {
    let t = types()?;
    let org_uid = uid(&t.org, "o");
    let sample = vec![
        Entity::new_no_attrs(
            uid(&t.user, "u"),
            HashSet::from([uid(&t.role, &org_role_id("o", OrgRole::Owner))]),
        ),
        org_entity(t, org_uid.clone(), "o")?,
        workspace_entity(t, uid(&t.workspace, "w"), "o", "w", org_uid)?,
        Entity::new_no_attrs(
            uid(&t.role, &org_role_id("o", OrgRole::Owner)),
            HashSet::from([uid(&t.role, &org_role_id("o", OrgRole::Admin))]),
        ),
    ];
    Entities::from_entities(sample, Some(schema))
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the schema must declare the sidecar-owned types User, Role, Organization and \
             Workspace as the default schema does: {e}"
            )
        })
}
