//! Organization memberships: list, add, change role, remove or leave, and
//! ownership transfer. An organization always keeps at least one owner.

use serde_json::json;

use super::invites::end;
use super::{
    check_email, check_id, check_user_id, page, parse_role, Actor, Change, DomainError, Paging,
    Tenancy,
};
use crate::authz::Target;
use crate::model::{InviteStatus, Member, OrgRole, Page, RoleKey};

impl Tenancy {
    pub async fn list_members(
        &self,
        actor: Actor,
        org: String,
        role: Option<String>,
        paging: Paging,
    ) -> Result<Page<Member>, DomainError> {
        let role = role.as_deref().map(parse_role).transpose()?;
        let limit = paging.limit()?;
        let after = paging.after()?;
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "member.list", Target::Org(&org))?;
            let rows = inner.store.read(|db| {
                if let Some(key) = role.as_ref().and_then(RoleKey::custom) {
                    if db.get_custom_role(&org, key)?.is_none() {
                        return Err(DomainError::Invalid(format!(
                            "organization `{org}` has no role `{key}`"
                        )));
                    }
                }
                Ok(db.list_members(&org, role.as_ref(), after.as_deref(), limit)?)
            })?;
            Ok(page(rows, |m| m.user_id.clone()))
        })
        .await
    }

    /// Adds `user` directly, without an invitation (provisioning).
    pub async fn add_member(
        &self,
        actor: Actor,
        org: String,
        user: String,
        email: String,
        role: String,
    ) -> Result<Member, DomainError> {
        check_user_id("user id", &user)?;
        let email = check_email(&email)?;
        let role = parse_role(&role)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                c.authorize(
                    &actor,
                    "member.add",
                    Target::Org(&org),
                    &[("role", role.as_str())],
                )?;
                c.require_grantable(&actor, &org, &role)?;
                if c.db.member_role(&org, &user)?.is_some() {
                    return Err(DomainError::AlreadyMember(format!(
                        "user `{user}` is already a member of `{org}`"
                    )));
                }
                c.db.record_user(&user, &email)?;
                c.db.insert_member(&org, &user, &role, &email)?;
                c.audit(
                    &org,
                    &actor,
                    "member.add",
                    &user_target(&user),
                    json!({"role": role, "email": email}),
                )?;
                fetch_member(c, &org, &user)
            })
        })
        .await
    }

    pub async fn update_member_role(
        &self,
        actor: Actor,
        org: String,
        user: String,
        role: String,
    ) -> Result<Member, DomainError> {
        check_user_id("user id", &user)?;
        let new_role = parse_role(&role)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                let current = target_role(c, &actor, "member.update_role", &org, &user)?;
                c.authorize(
                    &actor,
                    "member.update_role",
                    Target::Org(&org),
                    &[
                        ("role", new_role.as_str()),
                        ("current_role", current.as_str()),
                        ("new_role", new_role.as_str()),
                    ],
                )?;
                if current != new_role {
                    c.require_revocable(&actor, &org, &current)?;
                    c.require_grantable(&actor, &org, &new_role)?;
                    if current.is(OrgRole::Owner) {
                        keep_an_owner(c, &org, &user)?;
                    }
                    c.db.set_member_role(&org, &user, &new_role)?;
                    c.audit(
                        &org,
                        &actor,
                        "member.update_role",
                        &user_target(&user),
                        json!({"from": current, "to": new_role}),
                    )?;
                }
                fetch_member(c, &org, &user)
            })
        })
        .await
    }

    /// Removes `user`; when the actor is that user, it is leaving
    /// (`member.leave`) rather than removing (`member.remove`).
    pub async fn remove_member(
        &self,
        actor: Actor,
        org: String,
        user: String,
    ) -> Result<(), DomainError> {
        // Not `check_user_id`: a `system` member from before the id was
        // reserved can still be removed.
        check_id("user id", &user)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                let action = if actor.user_id() == Some(user.as_str()) {
                    "member.leave"
                } else {
                    "member.remove"
                };
                let current = target_role(c, &actor, action, &org, &user)?;
                c.authorize(
                    &actor,
                    action,
                    Target::Org(&org),
                    &[("role", current.as_str())],
                )?;
                if action == "member.remove" {
                    c.require_revocable(&actor, &org, &current)?;
                }
                if current.is(OrgRole::Owner) {
                    keep_an_owner(c, &org, &user)?;
                }
                c.db.delete_member(&org, &user)?;
                c.audit(
                    &org,
                    &actor,
                    action,
                    &user_target(&user),
                    json!({"role": current}),
                )?;
                revoke_invites_sent_by(c, &actor, &org, &user)
            })
        })
        .await
    }

    /// Makes `to` an owner; the acting owner becomes an admin, in the same
    /// transaction. A system call only promotes `to`.
    pub async fn transfer_ownership(
        &self,
        actor: Actor,
        org: String,
        to: String,
    ) -> Result<Member, DomainError> {
        check_user_id("`to`", &to)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "org.transfer_ownership", Target::Org(&org), &[])?;
                let Some(previous) = c.db.member_role(&org, &to)? else {
                    return Err(DomainError::NotAMember(format!(
                        "user `{to}` is not a member of `{org}`"
                    )));
                };
                if actor.user_id() == Some(to.as_str()) {
                    return Err(DomainError::Invalid(
                        "ownership cannot be transferred to oneself".into(),
                    ));
                }
                c.db.set_member_role(&org, &to, &OrgRole::Owner.into())?;
                if let Some(from) = actor.user_id() {
                    c.db.set_member_role(&org, from, &OrgRole::Admin.into())?;
                }
                c.audit(
                    &org,
                    &actor,
                    "org.transfer_ownership",
                    &user_target(&to),
                    json!({"from": actor.user_id(), "to": to, "previous_role": previous}),
                )?;
                fetch_member(c, &org, &to)
            })
        })
        .await
    }
}

fn user_target(user: &str) -> String {
    format!("User::{user}")
}

/// The current role of `user`. When they are not a member, an actor who
/// could not act on members anyway gets `forbidden`, not `not_found`, so
/// outsiders learn nothing about who belongs.
fn target_role(
    c: &Change<'_, '_>,
    actor: &Actor,
    action: &str,
    org: &str,
    user: &str,
) -> Result<RoleKey, DomainError> {
    if let Some(role) = c.db.member_role(org, user)? {
        return Ok(role);
    }
    let probe = OrgRole::Member.as_str();
    let context: &[(&str, &str)] = if action == "member.update_role" {
        &[
            ("role", probe),
            ("current_role", probe),
            ("new_role", probe),
        ]
    } else {
        &[("role", probe)]
    };
    c.authorize(actor, action, Target::Org(org), context)?;
    Err(DomainError::NotFound(format!("member `{user}` of `{org}`")))
}

/// Refuses a change that would leave `org` without an owner, `user` being
/// an owner about to stop being one.
fn keep_an_owner(c: &Change<'_, '_>, org: &str, user: &str) -> Result<(), DomainError> {
    if c.db.count_owners(org)? <= 1 {
        return Err(DomainError::LastOwner(format!(
            "user `{user}` is the last owner of `{org}`; make someone else an owner first"
        )));
    }
    Ok(())
}

/// Someone who no longer belongs to `org` can send no invitation: the
/// invites `user` sent and that are still pending are revoked with them
/// (audited), so no link they sent can bring anyone in afterwards.
fn revoke_invites_sent_by(
    c: &Change<'_, '_>,
    actor: &Actor,
    org: &str,
    user: &str,
) -> Result<(), DomainError> {
    for invite in c.db.pending_invites_sent_by(org, user)? {
        end(c, &invite, InviteStatus::Revoked, None)?;
        c.audit(
            org,
            actor,
            "invite.revoke",
            &format!("Invite::{}", invite.id),
            json!({"email": invite.email, "reason": "inviter_left"}),
        )?;
    }
    Ok(())
}

fn fetch_member(c: &Change<'_, '_>, org: &str, user: &str) -> Result<Member, DomainError> {
    c.db.get_member(org, user)?
        .ok_or_else(|| DomainError::NotFound(format!("member `{user}` of `{org}`")))
}
