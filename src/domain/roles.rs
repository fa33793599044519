//! Custom roles: per-organization roles built from grantable permissions.
//! A custom role holder is a `member` plus the role's permissions; the
//! grants are Cedar policies generated from these rows (see `authz`).
//! Managing roles is the `role.manage` action; no one may define a role
//! holding a permission they do not hold themselves in that organization.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_name, Actor, Change, DomainError, Inner, Tenancy};
use crate::authz::{RoleGrants, Target};
use crate::model::{self, CustomRole, OrgRole, Page, RoleKey};

/// Most custom roles one organization may define.
pub const MAX_ROLES_PER_ORG: usize = 100;
/// Most generated grant policies (one per permission of a custom role)
/// across all organizations together: the ceiling of the
/// `max_custom_role_grants` setting. Every grant is a Cedar policy the
/// sidecar holds, and re-validates whenever the policy files change.
pub const MAX_CUSTOM_ROLE_GRANTS: usize = 20_000;
/// Longest role description.
pub const MAX_DESCRIPTION_LEN: usize = 1000;

/// `POST /v1/orgs/{org}/roles` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    /// The stable key members and invites hold (`^[a-z][a-z0-9_-]{0,63}$`,
    /// not a built-in role's name); generated when absent.
    #[serde(default)]
    pub key: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Grantable permissions (`GET /v1/permissions`).
    pub permissions: Vec<String>,
}

/// `PATCH /v1/orgs/{org}/roles/{role}` body: what is given changes.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// A role as the API shows it: built-in roles (read-only, with the
/// permissions the policies effectively give them) and custom roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RoleView {
    /// What members and invites hold: a built-in name or a custom key.
    pub key: String,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<CustomRole> for RoleView {
    fn from(r: CustomRole) -> Self {
        Self {
            key: r.key,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
            builtin: false,
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        }
    }
}

fn builtin_description(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => "Everything, including deleting and handing over the organization",
        OrgRole::Admin => "Manages members, invitations, workspaces and settings",
        OrgRole::Accounting => "A member who manages billing and invoices",
        OrgRole::Member => "Sees the organization and its members",
    }
}

pub(super) fn grants_of(role: CustomRole) -> RoleGrants {
    RoleGrants {
        org: role.org_id,
        key: role.key,
        permissions: role.permissions,
    }
}

/// Refuses when `user` lacks one of `permissions` in `org`; `doing` says
/// what they tried, as a verb phrase about a role ("grant role `fin`"). An
/// owner of `org` holds every grantable permission of it, whether or not a
/// policy names the permission for owners: someone must be able to hand out
/// a permission the host made grantable.
pub(super) fn require_holds(
    c: &Change<'_, '_>,
    user: &str,
    org: &str,
    permissions: &[String],
    doing: &str,
) -> Result<(), DomainError> {
    if permissions.is_empty()
        || c.db
            .member_role(org, user)?
            .is_some_and(|r| r.is(OrgRole::Owner))
    {
        return Ok(());
    }
    let lacking: Vec<&str> = permissions
        .iter()
        .filter(|p| !c.inner.authz.holds(c.snapshot, user, org, p))
        .map(String::as_str)
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    let (noun, pronoun) = if lacking.len() == 1 {
        ("permission", "it")
    } else {
        ("permissions", "them")
    };
    Err(DomainError::Forbidden(format!(
        "user `{user}` may not {doing} in `{org}`: the role carries the {noun} `{}`, and they do not hold {pronoun}",
        lacking.join("`, `")
    )))
}

impl Inner {
    /// Sorted, deduplicated permissions, each one grantable.
    fn check_permissions(&self, permissions: &[String]) -> Result<Vec<String>, DomainError> {
        let grantable = self.authz.grantable();
        let mut out = BTreeSet::new();
        for p in permissions {
            if !grantable.iter().any(|g| &g.action == p) {
                return Err(DomainError::Invalid(format!(
                    "unknown permission `{}`: see GET /v1/permissions",
                    p.chars().take(140).collect::<String>()
                )));
            }
            out.insert(p.clone());
        }
        Ok(out.into_iter().collect())
    }
}

fn check_description(text: &str) -> Result<String, DomainError> {
    if text.chars().count() > MAX_DESCRIPTION_LEN
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(DomainError::Invalid(format!(
            "`description` must be at most {MAX_DESCRIPTION_LEN} characters without control characters"
        )));
    }
    Ok(text.trim().to_owned())
}

/// A display name no other role of `org` uses, and that does not pass for
/// a built-in role.
fn check_role_name(
    c: &Change<'_, '_>,
    org: &str,
    name: &str,
    key: &str,
) -> Result<(), DomainError> {
    // `check_name` refused format and invisible characters, so what is
    // left to fold is case and compatibility forms (`OWNER`, `Ｏｗｎｅｒ`).
    let folded = model::fold_name(name);
    if OrgRole::ALL.iter().any(|r| r.as_str() == folded) {
        return Err(DomainError::Invalid(format!(
            "`{name}` is the name of a built-in role"
        )));
    }
    match c.db.custom_role_named(org, name)? {
        Some(other) if other != key => Err(DomainError::AlreadyExists(format!(
            "organization `{org}` already has a role named `{name}`"
        ))),
        _ => Ok(()),
    }
}

/// The custom role `key` of `org`; built-in roles are read-only.
fn fetch_custom(c: &Change<'_, '_>, org: &str, key: &str) -> Result<CustomRole, DomainError> {
    if key.parse::<OrgRole>().is_ok() {
        return Err(DomainError::ReadOnlyRole(format!(
            "`{key}` is a built-in role; built-in roles cannot be changed or deleted"
        )));
    }
    c.db.get_custom_role(org, key)?
        .ok_or_else(|| DomainError::NotFound(format!("role `{key}` of `{org}`")))
}

fn role_target(key: &str) -> String {
    format!("Role::{key}")
}

impl Tenancy {
    /// The built-in roles, then the custom roles by key (`org.read`: every
    /// member may see which roles exist).
    pub async fn list_roles(
        &self,
        actor: Actor,
        org: String,
    ) -> Result<Page<RoleView>, DomainError> {
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "org.read", Target::Org(&org))?;
            let mut items: Vec<RoleView> = OrgRole::ALL
                .iter()
                .map(|r| builtin_view(inner, &org, *r))
                .collect();
            let custom = inner.store.read(|db| db.list_custom_roles(Some(&org)))?;
            items.extend(custom.into_iter().map(RoleView::from));
            Ok(Page {
                items,
                next_cursor: None,
            })
        })
        .await
    }

    pub async fn get_role(
        &self,
        actor: Actor,
        org: String,
        key: String,
    ) -> Result<RoleView, DomainError> {
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "org.read", Target::Org(&org))?;
            if let Ok(role) = key.parse::<OrgRole>() {
                return Ok(builtin_view(inner, &org, role));
            }
            inner
                .store
                .read(|db| db.get_custom_role(&org, &key))?
                .map(RoleView::from)
                .ok_or_else(|| DomainError::NotFound(format!("role `{key}` of `{org}`")))
        })
        .await
    }

    pub async fn create_role(
        &self,
        actor: Actor,
        org: String,
        req: NewRole,
    ) -> Result<RoleView, DomainError> {
        let key = req.key.clone().unwrap_or_else(|| model::new_id("role"));
        if !model::is_valid_role_key(&key) {
            return Err(DomainError::Invalid(format!(
                "role key `{}` must match ^[a-z][a-z0-9_-]{{0,63}}$ and not be a built-in role",
                key.chars().take(80).collect::<String>()
            )));
        }
        let name = check_name(&req.name)?;
        let description = check_description(&req.description)?;
        self.run(move |inner| {
            let permissions = inner.check_permissions(&req.permissions)?;
            inner.change_org_with(&org, true, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "role.manage", Target::Org(&org), &[])?;
                if let Actor::User(user) = &actor {
                    require_holds(c, user, &org, &permissions, &format!("define role `{key}`"))?;
                }
                if c.db.list_custom_roles(Some(&org))?.len() >= MAX_ROLES_PER_ORG {
                    return Err(DomainError::Invalid(format!(
                        "organization `{org}` already has {MAX_ROLES_PER_ORG} custom roles"
                    )));
                }
                check_role_name(c, &org, &name, &key)?;
                let role = CustomRole {
                    org_id: org.clone(),
                    key: key.clone(),
                    name,
                    description,
                    permissions,
                    created_at: c.db.now().to_owned(),
                    updated_at: c.db.now().to_owned(),
                };
                if !c.db.insert_custom_role(&role)? {
                    return Err(DomainError::AlreadyExists(format!(
                        "organization `{org}` already has a role `{key}`"
                    )));
                }
                c.audit(&org, &actor, "role.create", &role_target(&key), json!({
                    "name": role.name, "description": role.description, "permissions": role.permissions,
                }))?;
                Ok(RoleView::from(role))
            })
        })
        .await
    }

    /// Renames, re-describes or changes the permissions of a custom role.
    /// Members and invites hold its key, so they keep it.
    pub async fn update_role(
        &self,
        actor: Actor,
        org: String,
        key: String,
        patch: RolePatch,
    ) -> Result<RoleView, DomainError> {
        let name = patch.name.as_deref().map(check_name).transpose()?;
        let description = patch
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        self.run(move |inner| {
            let permissions = patch
                .permissions
                .as_deref()
                .map(|p| inner.check_permissions(p))
                .transpose()?;
            inner.change_org_with(&org, true, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "role.manage", Target::Org(&org), &[])?;
                let before = fetch_custom(c, &org, &key)?;
                let mut after = before.clone();
                if let Some(name) = name {
                    check_role_name(c, &org, &name, &key)?;
                    after.name = name;
                }
                after.description = description.unwrap_or(after.description);
                after.permissions = permissions.unwrap_or(after.permissions);
                if let Actor::User(user) = &actor {
                    // Removing a permission takes it from every holder, so it
                    // needs the same rights as granting it.
                    let touched: BTreeSet<String> = before
                        .permissions
                        .iter()
                        .chain(&after.permissions)
                        .cloned()
                        .collect();
                    let touched: Vec<String> = touched.into_iter().collect();
                    require_holds(c, user, &org, &touched, &format!("change role `{key}`"))?;
                }
                if after == before {
                    return Ok(RoleView::from(after));
                }
                c.db.update_custom_role(&after)?;
                c.audit(
                    &org,
                    &actor,
                    "role.update",
                    &role_target(&key),
                    diff(&before, &after),
                )?;
                c.db.get_custom_role(&org, &key)?
                    .map(RoleView::from)
                    .ok_or_else(|| DomainError::NotFound(format!("role `{key}` of `{org}`")))
            })
        })
        .await
    }

    /// Deletes a custom role no member or pending invite holds.
    pub async fn delete_role(
        &self,
        actor: Actor,
        org: String,
        key: String,
    ) -> Result<(), DomainError> {
        self.run(move |inner| {
            inner.change_org_with(&org, true, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "role.manage", Target::Org(&org), &[])?;
                let role = fetch_custom(c, &org, &key)?;
                if let Actor::User(user) = &actor {
                    require_holds(c, user, &org, &role.permissions, &format!("delete role `{key}`"))?;
                }
                let usage = c.db.role_usage(&org, &key)?;
                if usage.members > 0 || usage.pending_invites > 0 {
                    return Err(DomainError::RoleInUse(format!(
                        "role `{key}` is held by {} member(s) and {} pending invite(s) of `{org}`; give them another role first",
                        usage.members, usage.pending_invites
                    )));
                }
                c.db.delete_custom_role(&org, &key)?;
                c.audit(&org, &actor, "role.delete", &role_target(&key), json!({
                    "name": role.name, "permissions": role.permissions,
                }))?;
                Ok(())
            })
        })
        .await
    }
}

fn builtin_view(inner: &Inner, org: &str, role: OrgRole) -> RoleView {
    RoleView {
        key: role.as_str().to_owned(),
        name: role.as_str().to_owned(),
        description: builtin_description(role).to_owned(),
        permissions: inner.authz.effective_permissions(org, &RoleKey::from(role)),
        builtin: true,
        created_at: None,
        updated_at: None,
    }
}

/// What an update changed: `{"field": {"from", "to"}}`, permissions as
/// `added` and `removed`.
fn diff(before: &CustomRole, after: &CustomRole) -> serde_json::Value {
    let mut changes = serde_json::Map::new();
    if before.name != after.name {
        changes.insert(
            "name".into(),
            json!({"from": before.name, "to": after.name}),
        );
    }
    if before.description != after.description {
        changes.insert(
            "description".into(),
            json!({"from": before.description, "to": after.description}),
        );
    }
    if before.permissions != after.permissions {
        let old: BTreeSet<&String> = before.permissions.iter().collect();
        let new: BTreeSet<&String> = after.permissions.iter().collect();
        changes.insert(
            "permissions".into(),
            json!({
                "added": new.difference(&old).collect::<Vec<_>>(),
                "removed": old.difference(&new).collect::<Vec<_>>(),
            }),
        );
    }
    serde_json::Value::Object(changes)
}
