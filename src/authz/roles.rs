//! Custom roles as Cedar policies. The grantable permissions are the actions
//! the schema annotates with `@grantable("<description>")`. Each custom role
//! of the database becomes one generated static policy per permission, with
//! the stable id `role:{org}:{key}:{permission}`:
//!
//! ```cedar
//! permit (principal in Role::"acme#custom:dev", action == Action::"billing.read",
//!         resource in Organization::"acme");
//! ```
//!
//! The serving set is the file policies plus these; a file `forbid` still
//! overrides a generated permit. Each organization's generated policies are
//! validated when they change (or the files do), not with every other
//! organization's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::{
    EntityId, EntityNamespace, EntityUid, Policy, PolicyId, PolicySet, Schema, SchemaFragment,
    ValidationMode, Validator,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::diagnostics::Problem;
use super::load::{LoadError, PolicyBundle, PolicyFile};
use super::slice;

/// The pseudo-file `GET /v1/policies` lists the generated policies under.
pub const ROLES_PATH: &str = "db:roles";
/// The schema annotation that makes an action grantable to custom roles.
const GRANTABLE: &str = "grantable";

/// A permission a custom role may hold: an action of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Grantable {
    pub action: String,
    pub description: String,
}

/// One custom role, as the policy set needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrants {
    pub org: String,
    pub key: String,
    pub permissions: Vec<String>,
}

/// The custom roles of every organization, by organization.
pub type RoleMap = BTreeMap<String, Vec<RoleGrants>>;

/// The grantable actions the schema fragments declare, sorted by action.
/// Only actions of the default namespace can be granted.
pub(super) fn grantable(
    schema: &Schema,
    fragments: &[SchemaFragment],
) -> Result<Vec<Grantable>, LoadError> {
    let mut out = Vec::new();
    for action in schema.actions() {
        if !action.type_name().namespace().is_empty() {
            continue;
        }
        let id = EntityId::new(action.id().unescaped());
        let namespace: Option<EntityNamespace> = None;
        let description = fragments
            .iter()
            .find_map(|f| f.action_annotation(namespace.clone(), &id, GRANTABLE));
        if let Some(description) = description {
            if description.trim().is_empty() {
                return Err(LoadError::Invalid(vec![Problem::new(format!(
                    "action `{}`: `@{GRANTABLE}` needs a description of the permission",
                    id.unescaped()
                ))]));
            }
            out.push(Grantable {
                action: id.unescaped().to_owned(),
                description: description.to_owned(),
            });
        }
    }
    out.sort_by(|a, b| a.action.cmp(&b.action));
    Ok(out)
}

/// The id of the policy granting `permission` to custom role `key` of `org`.
pub fn policy_id(org: &str, key: &str, permission: &str) -> String {
    format!("role:{org}:{key}:{permission}")
}

/// One organization's custom roles with their generated policies, checked
/// against the schema of the set that holds them. A set keeps one per
/// organization, so a role change generates and validates only its own
/// organization's policies and takes the others as they are.
#[derive(Debug)]
pub(super) struct OrgGrants {
    /// As stored, permissions no longer grantable included (a later schema
    /// that declares them grantable again brings their grants back).
    roles: Vec<RoleGrants>,
    /// The generated policies with their ids, in role order.
    policies: Vec<(String, Policy)>,
    /// The generated policies by role group, then action.
    groups: Vec<(EntityUid, Arc<GroupGrants>)>,
    /// Of the ids and texts of `policies`, for the set's revision.
    digest: [u8; 32],
}

/// The custom roles of a set, by organization.
pub(super) type OrgParts = BTreeMap<String, Arc<OrgGrants>>;

/// The generated policies granted to one role group, by action.
pub type GroupGrants = HashMap<EntityUid, Vec<Policy>>;

/// The generated policies of every role group, by group: a decision looks up
/// only the groups its principal is in.
pub type RoleGrantIndex = HashMap<EntityUid, Arc<GroupGrants>>;

/// The custom roles laid on `bundle`, as stored.
pub(super) fn role_map(bundle: &PolicyBundle) -> RoleMap {
    bundle
        .custom_roles
        .iter()
        .map(|(org, part)| (org.clone(), part.roles.clone()))
        .collect()
}

/// How many generated grant policies `bundle` serves.
pub(super) fn grant_count(bundle: &PolicyBundle) -> usize {
    bundle.custom_roles.values().map(|p| p.policies.len()).sum()
}

/// `base` (a set as loaded from files) with the policies of `roles` added,
/// each organization's policies validated. Permissions the schema no longer
/// declares grantable are left out, so a schema change can revoke but never
/// breaks.
pub(super) fn with_roles(base: &PolicyBundle, roles: &RoleMap) -> Result<PolicyBundle, LoadError> {
    let mut parts = OrgParts::new();
    for (org, list) in roles {
        if !list.is_empty() {
            parts.insert(org.clone(), Arc::new(org_grants(base, list.clone())?));
        }
    }
    let mut set = base.file_policies.clone();
    let mut index = RoleGrantIndex::new();
    for part in parts.values() {
        add_part(&mut set, &mut index, part)?;
    }
    Ok(finish(base, set, parts, index))
}

/// `base` with `org`'s custom roles replaced by `roles` (none: removed).
/// Only `org`'s policies are generated and validated: the others were
/// validated against this same schema when they joined the set, and Cedar
/// validates each policy on its own. The set stays the exact union of the
/// file policies and every organization's generated policies.
pub(super) fn with_org_roles(
    base: &PolicyBundle,
    org: &str,
    roles: Vec<RoleGrants>,
) -> Result<PolicyBundle, LoadError> {
    let part = if roles.is_empty() {
        None
    } else {
        Some(Arc::new(org_grants(base, roles)?))
    };
    let mut set = base.policies.clone();
    let mut index = base.role_grants.clone();
    let mut parts = base.custom_roles.clone();
    if let Some(old) = parts.remove(org) {
        for (id, _) in &old.policies {
            set.remove_static(PolicyId::new(id))
                .map_err(|e| invalid(id, e.to_string()))?;
        }
        for (group, _) in &old.groups {
            index.remove(group);
        }
    }
    if let Some(part) = part {
        add_part(&mut set, &mut index, &part)?;
        parts.insert(org.to_owned(), part);
    }
    Ok(finish(base, set, parts, index))
}

/// Generates `roles`' policies (all of one organization) and validates them.
fn org_grants(base: &PolicyBundle, roles: Vec<RoleGrants>) -> Result<OrgGrants, LoadError> {
    let grantable: HashSet<&str> = base.grantable.iter().map(|g| g.action.as_str()).collect();
    let mut own = PolicySet::new();
    let mut policies = Vec::new();
    let mut groups = Vec::new();
    let mut hasher = Sha256::new();
    for role in &roles {
        let Some(group) = entity_uid(base, "Role", &slice::custom_role_id(&role.org, &role.key))
        else {
            return Err(invalid(
                &role.key,
                "the schema lacks the `Role` type".into(),
            ));
        };
        let mut by_action = GroupGrants::new();
        for permission in &role.permissions {
            if !grantable.contains(permission.as_str()) {
                tracing::warn!(org = %role.org, role = %role.key, %permission,
                    "custom role permission is no longer grantable; ignored");
                continue;
            }
            let id = policy_id(&role.org, &role.key, permission);
            let text = policy_text(base, role, permission)?;
            hasher.update((id.len() as u64).to_le_bytes());
            hasher.update(id.as_bytes());
            hasher.update((text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
            let policy = Policy::parse(Some(PolicyId::new(&id)), &text)
                .map_err(|e| invalid(&id, e.to_string()))?;
            own.add(policy.clone())
                .map_err(|e| invalid(&id, e.to_string()))?;
            let Some(action) = entity_uid(base, "Action", permission) else {
                return Err(invalid(&id, "the schema lacks the action".into()));
            };
            by_action.entry(action).or_default().push(policy.clone());
            policies.push((id, policy));
        }
        if !by_action.is_empty() {
            groups.push((group, Arc::new(by_action)));
        }
    }
    if !policies.is_empty() {
        let result = Validator::new(base.schema.clone()).validate(&own, ValidationMode::Strict);
        let errors: Vec<Problem> = result
            .validation_errors()
            .map(|e| Problem::from_diagnostic(e, None, "").with_policy(e.policy_id().as_ref()))
            .collect();
        if !errors.is_empty() {
            return Err(LoadError::Invalid(errors));
        }
    }
    Ok(OrgGrants {
        roles,
        policies,
        groups,
        digest: hasher.finalize().into(),
    })
}

/// Adds one organization's generated policies to the set and the index.
fn add_part(
    set: &mut PolicySet,
    index: &mut RoleGrantIndex,
    part: &OrgGrants,
) -> Result<(), LoadError> {
    for (id, policy) in &part.policies {
        set.add(policy.clone())
            .map_err(|e| invalid(id, e.to_string()))?;
    }
    for (group, grants) in &part.groups {
        index.insert(group.clone(), grants.clone());
    }
    Ok(())
}

/// The bundle serving `set`: `base`'s files and schema with these roles.
fn finish(
    base: &PolicyBundle,
    set: PolicySet,
    parts: OrgParts,
    role_grants: RoleGrantIndex,
) -> PolicyBundle {
    let ids: Vec<String> = parts
        .values()
        .flat_map(|p| p.policies.iter().map(|(id, _)| id.clone()))
        .collect();
    let mut files: Vec<PolicyFile> = base
        .files
        .iter()
        .filter(|f| f.path != ROLES_PATH)
        .cloned()
        .collect();
    let revision = if ids.is_empty() {
        base.file_revision.clone()
    } else {
        // Of the files and, per organization, of its policies' ids and texts.
        let mut hasher = Sha256::new();
        hasher.update(base.file_revision.as_bytes());
        for (org, part) in parts.iter().filter(|(_, p)| !p.policies.is_empty()) {
            hasher.update((org.len() as u64).to_le_bytes());
            hasher.update(org.as_bytes());
            hasher.update(part.digest);
        }
        files.push(PolicyFile {
            path: ROLES_PATH.to_owned(),
            policy_ids: ids,
        });
        format!("sha256:{}", hex::encode(hasher.finalize()))
    };
    PolicyBundle {
        policies: set,
        schema: base.schema.clone(),
        actions: base.actions.clone(),
        // Of the file policies alone: decisions find the generated ones
        // through `role_grants`.
        by_action: base.by_action.clone(),
        types: base.types.clone(),
        // Request parts parsed for the previous set are not carried over.
        parsed: super::memo::ParseCache::default(),
        file_policies: base.file_policies.clone(),
        file_revision: base.file_revision.clone(),
        grantable: base.grantable.clone(),
        role_grants,
        custom_roles: parts,
        named: base.named.clone(),
        revision,
        loaded_at: crate::model::now_rfc3339(),
        files,
        warnings: base.warnings.clone(),
    }
}

fn entity_uid(base: &PolicyBundle, kind: &str, id: &str) -> Option<EntityUid> {
    let name = base.types.get(kind)?;
    Some(EntityUid::from_type_name_and_id(
        name.clone(),
        EntityId::new(id),
    ))
}

fn invalid(id: &str, message: String) -> LoadError {
    LoadError::Invalid(vec![Problem::new(format!(
        "generated policy `{id}`: {message}"
    ))
    .with_policy(id)])
}

/// The text of one generated policy. Uids are formatted by Cedar, so any id
/// is quoted and escaped correctly.
fn policy_text(
    base: &PolicyBundle,
    role: &RoleGrants,
    permission: &str,
) -> Result<String, LoadError> {
    let uid = |kind: &str, id: &str| {
        base.types
            .get(kind)
            .map(|t| EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id)))
            .ok_or_else(|| invalid(&role.key, format!("the schema declares no `{kind}` type")))
    };
    let principal = uid("Role", &slice::custom_role_id(&role.org, &role.key))?;
    let action = uid("Action", permission)?;
    let resource = uid("Organization", &role.org)?;
    Ok(format!(
        "permit (principal in {principal}, action == {action}, resource in {resource});"
    ))
}
