//! Organizations: create, read, rename, delete, and a user's organizations.

use serde::Deserialize;
use serde_json::json;

use super::{
    check_email, check_id, check_name, check_user_id, page, Actor, DomainError, Paging, Tenancy,
};
use crate::authz::Target;
use crate::model::{self, Org, OrgRole, Page, UserOrg};

/// `POST /v1/orgs` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub owner: NewOwner,
}

/// The first owner of a new organization; the id defaults to the actor's,
/// and with an actor may only be the actor's. `email` is the address this
/// organization knows the owner by.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    #[serde(default)]
    pub id: Option<String>,
    pub email: String,
}

impl Tenancy {
    pub async fn create_org(&self, actor: Actor, req: CreateOrg) -> Result<Org, DomainError> {
        let id = req.id.clone().unwrap_or_else(|| model::new_id("org"));
        check_id("organization id", &id)?;
        let name = check_name(&req.name)?;
        let email = check_email(&req.owner.email)?;
        let owner = match (&req.owner.id, actor.user_id()) {
            // Making someone owner takes that someone (or a system call):
            // no tenant enrolls another user in an org they never joined.
            (Some(owner), Some(actor)) if owner != actor => {
                return Err(DomainError::Forbidden(format!(
                    "user `{actor}` may not make `{owner}` the owner of a new organization; only `{owner}` or a system call may"
                )))
            }
            (Some(owner), _) => owner.clone(),
            (None, Some(actor)) => actor.to_owned(),
            (None, None) => {
                return Err(DomainError::Invalid(
                    "`owner.id` is required when no actor makes the call".into(),
                ))
            }
        };
        check_user_id("owner id", &owner)?;
        self.run(move |inner| {
            let org_id = id.clone();
            inner.change_org(&id, move |c| {
                if !c.db.insert_org(&org_id, &name)? {
                    return Err(DomainError::AlreadyExists(
                        if c.db.org_id_retired(&org_id)? {
                            format!("organization id `{org_id}` belonged to a deleted organization and is never reused")
                        } else {
                            format!("organization `{org_id}` already exists")
                        },
                    ));
                }
                c.db.record_user(&owner, &email)?;
                c.db.insert_member(&org_id, &owner, &OrgRole::Owner.into(), &email)?;
                c.audit(
                    &org_id,
                    &actor,
                    "org.create",
                    &format!("Organization::{org_id}"),
                    json!({"name": name, "owner": owner}),
                )?;
                c.db.get_org(&org_id)?
                    .ok_or_else(|| DomainError::NotFound(format!("organization `{org_id}`")))
            })
        })
        .await
    }

    pub async fn get_org(&self, actor: Actor, org: String) -> Result<Org, DomainError> {
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "org.read", Target::Org(&org))?;
            inner
                .store
                .read(|db| db.get_org(&org))?
                .ok_or_else(|| DomainError::NotFound(format!("organization `{org}`")))
        })
        .await
    }

    pub async fn rename_org(
        &self,
        actor: Actor,
        org: String,
        name: String,
    ) -> Result<Org, DomainError> {
        let name = check_name(&name)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "org.update", Target::Org(&org), &[])?;
                let before = c.db.get_org(&org)?.map(|o| o.name).unwrap_or_default();
                c.db.rename_org(&org, &name)?;
                c.audit(
                    &org,
                    &actor,
                    "org.update",
                    &format!("Organization::{org}"),
                    json!({"name": {"from": before, "to": name}}),
                )?;
                c.db.get_org(&org)?
                    .ok_or_else(|| DomainError::NotFound(format!("organization `{org}`")))
            })
        })
        .await
    }

    /// Deletes the organization with its workspaces, memberships and
    /// invites; its audit log stays (for system calls), and its id and its
    /// workspaces' ids are retired for good.
    pub async fn delete_org(&self, actor: Actor, org: String) -> Result<(), DomainError> {
        self.run(move |inner| {
            // Its custom roles go too, and with them their policies.
            inner.change_org_with(&org, true, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "org.delete", Target::Org(&org), &[])?;
                let before = c.db.get_org(&org)?;
                c.db.delete_org(&org)?;
                c.audit(
                    &org,
                    &actor,
                    "org.delete",
                    &format!("Organization::{org}"),
                    json!({
                        "name": before.as_ref().map(|o| &o.name),
                        "member_count": before.as_ref().map(|o| o.member_count),
                    }),
                )?;
                Ok(())
            })
        })
        .await
    }

    /// The organizations `user` belongs to. Only the user themself, or a
    /// system call (admin key, no actor), may ask: a call that names an
    /// actor acts for that actor whatever its key's scope.
    pub async fn user_orgs(
        &self,
        actor: Actor,
        user: String,
        paging: Paging,
    ) -> Result<Page<UserOrg>, DomainError> {
        check_user_id("user id", &user)?;
        if let Actor::User(actor) = &actor {
            if actor != &user {
                return Err(DomainError::Forbidden(format!(
                    "user `{actor}` may not list the organizations of `{user}`; only `{user}` or a system call may"
                )));
            }
        }
        let limit = paging.limit()?;
        let after = paging.after()?;
        self.run(move |inner| {
            let rows = inner
                .store
                .read(|db| db.user_orgs(&user, after.as_deref(), limit))?;
            Ok(page(rows, |item| item.org.id.clone()))
        })
        .await
    }
}
