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
//! The serving set is the file policies plus these, validated together; a
//! file `forbid` still overrides a generated permit.

use std::collections::{BTreeMap, HashMap, HashSet};

use cedar_policy::{
    EntityId, EntityNamespace, EntityUid, Policy, PolicyId, Schema, SchemaFragment, ValidationMode,
    Validator,
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

/// Generated policies by action, then by the role group they grant to.
pub type RoleGrantIndex = HashMap<EntityUid, HashMap<EntityUid, Vec<Policy>>>;

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

/// `base` (a set as loaded from files) with the policies of `roles` added
/// and the whole validated again. Permissions the schema no longer declares
/// grantable are left out, so a schema change can revoke but never breaks.
pub(super) fn with_roles(base: &PolicyBundle, roles: &RoleMap) -> Result<PolicyBundle, LoadError> {
    let grantable: HashSet<&str> = base.grantable.iter().map(|g| g.action.as_str()).collect();
    let mut set = base.file_policies.clone();
    let mut ids = Vec::new();
    let mut role_grants = RoleGrantIndex::new();
    let mut hasher = Sha256::new();
    hasher.update(base.file_revision.as_bytes());
    for role in roles.values().flatten() {
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
            set.add(policy.clone())
                .map_err(|e| invalid(&id, e.to_string()))?;
            let (Some(action), Some(group)) = (
                entity_uid(base, "Action", permission),
                entity_uid(base, "Role", &slice::custom_role_id(&role.org, &role.key)),
            ) else {
                return Err(invalid(
                    &id,
                    "the schema lacks the `Role` type or the action".into(),
                ));
            };
            role_grants
                .entry(action)
                .or_default()
                .entry(group)
                .or_default()
                .push(policy);
            ids.push(id);
        }
    }
    if !ids.is_empty() {
        let result = Validator::new(base.schema.clone()).validate(&set, ValidationMode::Strict);
        let errors: Vec<Problem> = result
            .validation_errors()
            .map(|e| Problem::from_diagnostic(e, None, "").with_policy(e.policy_id().as_ref()))
            .collect();
        if !errors.is_empty() {
            return Err(LoadError::Invalid(errors));
        }
    }
    let mut files: Vec<PolicyFile> = base
        .files
        .iter()
        .filter(|f| f.path != ROLES_PATH)
        .cloned()
        .collect();
    let revision = if ids.is_empty() {
        base.file_revision.clone()
    } else {
        files.push(PolicyFile {
            path: ROLES_PATH.to_owned(),
            policy_ids: ids,
        });
        format!("sha256:{}", hex::encode(hasher.finalize()))
    };
    // Decisions find the generated policies through `role_grants`.
    let by_action = super::load::index_by_action(&base.schema, &base.file_policies)?;
    Ok(PolicyBundle {
        policies: set,
        schema: base.schema.clone(),
        actions: base.actions.clone(),
        by_action,
        types: base.types.clone(),
        // Request parts parsed for the previous set are not carried over.
        parsed: super::memo::ParseCache::default(),
        file_policies: base.file_policies.clone(),
        file_revision: base.file_revision.clone(),
        grantable: base.grantable.clone(),
        role_grants,
        named: base.named.clone(),
        revision,
        loaded_at: crate::model::now_rfc3339(),
        files,
        warnings: base.warnings.clone(),
    })
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
