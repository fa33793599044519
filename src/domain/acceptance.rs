//! Invitations, the invitee's side: the token is the capability. Lookup,
//! accept and decline; every unusable token gets the same answer.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::invites::{end, TOKEN_PREFIX};
use super::{check_email, check_user_id, Actor, Change, DomainError, Tenancy};
use crate::authz::Target;
use crate::model::{Invite, InviteLookup, InviteStatus, OrgRef, RoleKey};
use crate::secret;

/// The user accepting an invite.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitee {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub org_id: String,
    pub user_id: String,
    #[schema(value_type = String)]
    pub role: RoleKey,
}

/// Longest token accepted (anything longer is not one of ours).
const MAX_TOKEN_LEN: usize = 100;

/// The hash of a token, or `InviteNotFound` for input that cannot be one.
fn token_hash(token: &str) -> Result<String, DomainError> {
    let token = token.trim();
    if !token.starts_with(TOKEN_PREFIX) || token.len() > MAX_TOKEN_LEN {
        return Err(DomainError::InviteNotFound);
    }
    Ok(secret::hash(token))
}

impl Tenancy {
    /// What an accept page shows. A token of an ended invite (accepted,
    /// declined, revoked, rotated) is unknown; an expired one says so.
    pub async fn lookup_invite(&self, token: String) -> Result<InviteLookup, DomainError> {
        let hash = token_hash(&token)?;
        self.run(move |inner| {
            inner.store.read(|db| {
                let invite = db
                    .invite_by_token(&hash)?
                    .ok_or(DomainError::InviteNotFound)?;
                if !matches!(invite.status, InviteStatus::Pending | InviteStatus::Expired) {
                    return Err(DomainError::InviteNotFound);
                }
                let org = db
                    .get_org(&invite.org_id)?
                    .ok_or(DomainError::InviteNotFound)?;
                Ok(InviteLookup {
                    org: OrgRef {
                        id: org.id,
                        name: org.name,
                    },
                    role: invite.role,
                    invited_by: invite.invited_by,
                    expires_at: invite.expires_at,
                    status: invite.status,
                })
            })
        })
        .await
    }

    /// Joins the invite's organization with its role. The user's email must
    /// be the invited one; of concurrent accepts exactly one wins.
    pub async fn accept_invite(
        &self,
        token: String,
        user: Invitee,
    ) -> Result<Accepted, DomainError> {
        let hash = token_hash(&token)?;
        check_user_id("user id", &user.id)?;
        let email = check_email(&user.email)?;
        self.run(move |inner| {
            let org = pending_by_token(inner, &hash)?.org_id;
            inner.change_org(&org, |c| {
                // Re-read inside the transaction: another accept may have won.
                let invite = c.db.invite_by_token(&hash)?.filter(|i| i.status == InviteStatus::Pending);
                let invite = invite.ok_or(DomainError::InviteNotFound)?;
                if invite.email != email {
                    return Err(DomainError::InviteEmailMismatch);
                }
                inviter_may_still_grant(c, &invite)?;
                if c.db.member_role(&invite.org_id, &user.id)?.is_some()
                    || c.db.member_has_email(&invite.org_id, &email)?
                {
                    return Err(DomainError::AlreadyMember(format!(
                        "user `{}` or another member with `{email}` already belongs to `{}`",
                        user.id, invite.org_id
                    )));
                }
                end(c, &invite, InviteStatus::Accepted, Some(&user.id)).map_err(|_| DomainError::InviteNotFound)?;
                c.db.record_user(&user.id, &email)?;
                c.db.insert_member(&invite.org_id, &user.id, &invite.role, &email)?;
                c.audit(&invite.org_id, &Actor::User(user.id.clone()), "invite.accept",
                    &format!("User::{}", user.id),
                    json!({"invite": invite.id, "email": email, "role": invite.role, "invited_by": invite.invited_by}))?;
                Ok(Accepted {
                    org_id: invite.org_id,
                    user_id: user.id.clone(),
                    role: invite.role,
                })
            })
        })
        .await
    }

    pub async fn decline_invite(&self, token: String) -> Result<(), DomainError> {
        let hash = token_hash(&token)?;
        self.run(move |inner| {
            inner.change_untracked(|c| {
                let invite =
                    c.db.invite_by_token(&hash)?
                        .filter(|i| i.status == InviteStatus::Pending);
                let invite = invite.ok_or(DomainError::InviteNotFound)?;
                end(c, &invite, InviteStatus::Declined, None)
                    .map_err(|_| DomainError::InviteNotFound)?;
                // The invitee has no user id: `(invitee)` cannot be one.
                c.audit(
                    &invite.org_id,
                    &Actor::User("(invitee)".into()),
                    "invite.decline",
                    &format!("Invite::{}", invite.id),
                    json!({"email": invite.email}),
                )?;
                Ok(())
            })
        })
        .await
    }
}

fn pending_by_token(inner: &super::Inner, hash: &str) -> Result<Invite, DomainError> {
    inner
        .store
        .read(|db| db.invite_by_token(hash))?
        .filter(|i| i.status == InviteStatus::Pending)
        .ok_or(DomainError::InviteNotFound)
}

/// An invitation carries its sender's right to grant its role, and that
/// right may have gone since (removed, demoted, a policy or role changed):
/// accepting re-asks the policies whether the sender may still invite with
/// this role, as if they sent it now. An invitation of a system call needs
/// no such right.
fn inviter_may_still_grant(c: &Change<'_, '_>, invite: &Invite) -> Result<(), DomainError> {
    let inviter = Actor::from_audit_name(&invite.invited_by);
    let org = invite.org_id.as_str();
    c.authorize(
        &inviter,
        "member.invite",
        Target::Org(org),
        &[("role", invite.role.as_str())],
    )
    .and_then(|()| c.require_grantable(&inviter, org, &invite.role))
    .map_err(|e| match e {
        DomainError::Forbidden(_) => DomainError::Forbidden(format!(
            "this invitation was sent by `{}`, who may no longer grant the role `{}` in `{org}`; ask for a new invitation",
            invite.invited_by, invite.role
        )),
        other => other,
    })
}
