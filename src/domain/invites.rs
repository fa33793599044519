//! Invitations, the inviting side: create (bulk, all-or-nothing), list,
//! read, change role, resend, revoke. Tokens are minted here and returned
//! once; only their hashes are stored.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_email, parse_role, Actor, Change, DomainError, Paging, Tenancy};
use crate::authz::Target;
use crate::model::{self, Invite, InviteStatus, IssuedInvite, Page, RoleKey};
use crate::secret;
use crate::store::InviteFilter;

/// Most invites in one create call.
pub const MAX_INVITES_PER_CALL: usize = 100;
/// Longest expiry an invite may have, in days.
pub const MAX_EXPIRY_DAYS: u32 = 30;
/// Prefix of invite tokens.
pub const TOKEN_PREFIX: &str = "tgi_";

/// `POST /v1/orgs/{org}/invites` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvites {
    pub invites: Vec<NewInvite>,
    #[serde(default = "default_true")]
    pub send_email: bool,
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub email: String,
    pub role: String,
}

/// The create answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedInvites {
    pub invites: Vec<IssuedInvite>,
}

/// A validated invite, its token minted.
struct Prepared {
    id: String,
    email: String,
    role: RoleKey,
    token: String,
}

impl Tenancy {
    pub async fn create_invites(
        &self,
        actor: Actor,
        org: String,
        req: CreateInvites,
    ) -> Result<CreatedInvites, DomainError> {
        let count = req.invites.len();
        if count == 0 || count > MAX_INVITES_PER_CALL {
            return Err(DomainError::Invalid(format!(
                "`invites` must hold 1 to {MAX_INVITES_PER_CALL} invites, not {count}"
            )));
        }
        let days = match req.expires_in_days {
            None => self.inner.invites.default_expiry_days,
            Some(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => d,
            Some(d) => {
                return Err(DomainError::Invalid(format!(
                    "`expires_in_days` must be between 1 and {MAX_EXPIRY_DAYS}, not {d}"
                )))
            }
        };
        let mut prepared: Vec<Prepared> = Vec::with_capacity(count);
        for (i, item) in req.invites.iter().enumerate() {
            let at = |e: DomainError| DomainError::Invalid(format!("invites[{i}]: {e}"));
            let email = check_email(&item.email).map_err(at)?;
            let role = parse_role(&item.role).map_err(at)?;
            if let Some(j) = prepared.iter().position(|p| p.email == email) {
                return Err(DomainError::Invalid(format!(
                    "invites[{i}]: `{email}` is already invited by invites[{j}]"
                )));
            }
            prepared.push(Prepared {
                id: model::new_id("inv"),
                email,
                role,
                token: secret::generate(TOKEN_PREFIX)?,
            });
        }
        let send_email = req.send_email;
        let issued = self
            .run(move |inner| {
                inner.change_untracked(|c| {
                    c.require_org(&org)?;
                    for p in &prepared {
                        c.authorize(&actor, "member.invite", Target::Org(&org), &[("role", p.role.as_str())])?;
                        c.require_grantable(&actor, &org, &p.role)?;
                    }
                    check_rate(c, &org, prepared.len())?;
                    let expires_at = days_from_now(days);
                    let mut issued = Vec::with_capacity(prepared.len());
                    for (i, p) in prepared.iter().enumerate() {
                        expire_stale(c, &org, &p.email)?;
                        if c.db.member_has_email(&org, &p.email)? {
                            return Err(DomainError::AlreadyMember(format!(
                                "invites[{i}]: `{}` is already a member of `{org}`",
                                p.email
                            )));
                        }
                        if c.db.has_pending_invite(&org, &p.email)? {
                            return Err(DomainError::InviteExists(format!(
                                "invites[{i}]: `{}` already has a pending invite to `{org}`",
                                p.email
                            )));
                        }
                        c.db.insert_invite(&p.id, &org, &p.email, &p.role, actor.audit_name(), days, &expires_at)?;
                        c.db.insert_invite_token(&secret::hash(&p.token), &p.id, "link", None)?;
                        if send_email {
                            c.db.enqueue_invite_mail(&p.id, &p.email)?;
                        }
                        c.audit(&org, &actor, "invite.create", &invite_target(&p.id), json!({
                            "email": p.email, "role": p.role, "expires_at": expires_at, "send_email": send_email,
                        }))?;
                        issued.push(inner.issue(fetch_invite(c, &org, &p.id)?, p.token.clone()));
                    }
                    Ok(issued)
                })
            })
            .await?;
        if send_email {
            self.inner.mail_wakeup.notify_one();
        }
        Ok(CreatedInvites { invites: issued })
    }

    pub async fn list_invites(
        &self,
        actor: Actor,
        org: String,
        status: Option<String>,
        email: Option<String>,
        paging: Paging,
    ) -> Result<Page<Invite>, DomainError> {
        let status = status
            .map(|s| s.parse::<InviteStatus>().map_err(DomainError::Invalid))
            .transpose()?;
        let email = email.map(|e| check_email(&e)).transpose()?;
        let limit = paging.limit()?;
        let before = paging.after_row()?;
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "invite.list", Target::Org(&org))?;
            let filter = InviteFilter {
                status,
                email: email.as_deref(),
            };
            let (rows, more) = inner
                .store
                .read(|db| db.list_invites(&org, &filter, before, limit))?;
            // The cursor is the row number: newest first, stable under inserts.
            let next_cursor = rows
                .last()
                .filter(|_| more)
                .map(|(rowid, _)| super::cursor_for(&rowid.to_string()));
            Ok(Page {
                items: rows.into_iter().map(|(_, invite)| invite).collect(),
                next_cursor,
            })
        })
        .await
    }

    pub async fn get_invite(
        &self,
        actor: Actor,
        org: String,
        id: String,
    ) -> Result<Invite, DomainError> {
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            inner.authorize_read(&actor, "invite.list", Target::Org(&org))?;
            inner
                .store
                .read(|db| db.get_invite(&org, &id))?
                .ok_or_else(|| DomainError::NotFound(format!("invite `{id}` of `{org}`")))
        })
        .await
    }

    /// Changes the role of a pending invite.
    pub async fn update_invite_role(
        &self,
        actor: Actor,
        org: String,
        id: String,
        role: String,
    ) -> Result<Invite, DomainError> {
        let new_role = parse_role(&role)?;
        self.run(move |inner| {
            inner.change_untracked(|c| {
                let invite = fetch_invite(c, &org, &id)?;
                c.authorize(
                    &actor,
                    "invite.update",
                    Target::Org(&org),
                    &[
                        ("role", new_role.as_str()),
                        ("current_role", invite.role.as_str()),
                        ("new_role", new_role.as_str()),
                    ],
                )?;
                require_pending(&invite)?;
                if invite.role != new_role {
                    c.require_revocable(&actor, &org, &invite.role)?;
                    c.require_grantable(&actor, &org, &new_role)?;
                    c.db.set_invite_role(&id, &new_role)?;
                    c.audit(
                        &org,
                        &actor,
                        "invite.update",
                        &invite_target(&id),
                        json!({"email": invite.email, "from": invite.role, "to": new_role}),
                    )?;
                }
                fetch_invite(c, &org, &id)
            })
        })
        .await
    }

    /// Rotates the token (the old link dies), restarts the expiry and, unless
    /// `send_email` is false, sends the email again.
    pub async fn resend_invite(
        &self,
        actor: Actor,
        org: String,
        id: String,
        send_email: bool,
    ) -> Result<IssuedInvite, DomainError> {
        let token = secret::generate(TOKEN_PREFIX)?;
        let issued = self
            .run(move |inner| {
                inner.change_untracked(|c| {
                    let invite = pending_for(c, &actor, "invite.resend", &org, &id)?;
                    check_rate(c, &org, 1)?;
                    let expires_at = days_from_now(c.db.invite_ttl_days(&id)?);
                    c.db.delete_invite_tokens(&id)?;
                    c.db.insert_invite_token(&secret::hash(&token), &id, "link", None)?;
                    c.db.restart_invite(&id, &expires_at)?;
                    c.db.cancel_invite_mail(&id)?;
                    if send_email {
                        c.db.enqueue_invite_mail(&id, &invite.email)?;
                    }
                    c.audit(
                        &org,
                        &actor,
                        "invite.resend",
                        &invite_target(&id),
                        json!({"email": invite.email, "expires_at": expires_at, "send_email": send_email}),
                    )?;
                    Ok(inner.issue(fetch_invite(c, &org, &id)?, token))
                })
            })
            .await?;
        if send_email {
            self.inner.mail_wakeup.notify_one();
        }
        Ok(issued)
    }

    /// Revokes a pending invite: its links die and unsent mail is cancelled.
    pub async fn revoke_invite(
        &self,
        actor: Actor,
        org: String,
        id: String,
    ) -> Result<Invite, DomainError> {
        self.run(move |inner| {
            inner.change_untracked(|c| {
                let invite = pending_for(c, &actor, "invite.revoke", &org, &id)?;
                end(c, &invite, InviteStatus::Revoked, None)?;
                c.audit(
                    &org,
                    &actor,
                    "invite.revoke",
                    &invite_target(&id),
                    json!({"email": invite.email}),
                )?;
                fetch_invite(c, &org, &id)
            })
        })
        .await
    }

    /// Records every invite that expired since the last sweep in the audit
    /// log. Returns how many.
    pub async fn sweep_expired_invites(&self) -> Result<usize, DomainError> {
        self.run(|inner| {
            let mut total = 0;
            loop {
                let n = inner.change_untracked(|c| {
                    let expired = c.db.expire_due_invites(100)?;
                    for (org, id, email) in &expired {
                        c.db.cancel_invite_mail(id)?;
                        c.audit(
                            org,
                            &Actor::System,
                            "invite.expire",
                            &invite_target(id),
                            json!({"email": email}),
                        )?;
                    }
                    Ok(expired.len())
                })?;
                total += n;
                if n < 100 {
                    return Ok(total);
                }
            }
        })
        .await
    }
}

impl super::Inner {
    /// Pairs an invite with its token and accept link, for create/resend.
    fn issue(&self, invite: Invite, token: String) -> IssuedInvite {
        IssuedInvite {
            invite,
            accept_url: self.accept_url(&token),
            token,
        }
    }

    pub(super) fn accept_url(&self, token: &str) -> String {
        self.invites.accept_url_template.replace("{token}", token)
    }
}

/// Ends a pending invite: status, tokens, unsent mail.
pub(super) fn end(
    c: &Change<'_, '_>,
    invite: &Invite,
    status: InviteStatus,
    accepted_by: Option<&str>,
) -> Result<(), DomainError> {
    if !c.db.end_invite(&invite.id, status, accepted_by)? {
        return Err(DomainError::InviteNotPending(format!(
            "invite `{}` is no longer pending",
            invite.id
        )));
    }
    c.db.delete_invite_tokens(&invite.id)?;
    c.db.cancel_invite_mail(&invite.id)?;
    Ok(())
}

/// The invite `id` of `org`, once the actor may `action` on it (the
/// invite's role in the context) and it is still pending.
fn pending_for(
    c: &Change<'_, '_>,
    actor: &Actor,
    action: &str,
    org: &str,
    id: &str,
) -> Result<Invite, DomainError> {
    let invite = fetch_invite(c, org, id)?;
    c.authorize(
        actor,
        action,
        Target::Org(org),
        &[("role", invite.role.as_str())],
    )?;
    // A resend hands out the invite's role again and a revoke takes it
    // away: both need the rights that granting it needs.
    if action == "invite.revoke" {
        c.require_revocable(actor, org, &invite.role)?;
    } else {
        c.require_grantable(actor, org, &invite.role)?;
    }
    require_pending(&invite)?;
    Ok(invite)
}

fn require_pending(invite: &Invite) -> Result<(), DomainError> {
    if invite.status == InviteStatus::Pending {
        Ok(())
    } else {
        Err(DomainError::InviteNotPending(format!(
            "invite `{}` is {}; only pending invites can change",
            invite.id,
            invite.status.as_str()
        )))
    }
}

fn fetch_invite(c: &Change<'_, '_>, org: &str, id: &str) -> Result<Invite, DomainError> {
    c.require_org(org)?;
    c.db.get_invite(org, id)?
        .ok_or_else(|| DomainError::NotFound(format!("invite `{id}` of `{org}`")))
}

/// A pending invite past its expiry blocks nothing: record it as expired.
fn expire_stale(c: &Change<'_, '_>, org: &str, email: &str) -> Result<(), DomainError> {
    for id in c.db.expire_stale_invites_for(org, email)? {
        c.db.cancel_invite_mail(&id)?;
        c.audit(
            org,
            &Actor::System,
            "invite.expire",
            &invite_target(&id),
            json!({"email": email}),
        )?;
    }
    Ok(())
}

/// The per-organization limit on invites created or resent per hour.
fn check_rate(c: &Change<'_, '_>, org: &str, adding: usize) -> Result<(), DomainError> {
    let limit = u64::from(c.inner.invites.rate_per_hour);
    let hour_ago = model::format_time(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let recent = c.db.count_invite_sends_since(org, &hour_ago)?;
    if recent + adding as u64 > limit {
        return Err(DomainError::RateLimited(format!(
            "organization `{org}` may send at most {limit} invites per hour ({recent} in the last hour)"
        )));
    }
    Ok(())
}

fn days_from_now(days: u32) -> String {
    model::format_time(time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)))
}

fn invite_target(id: &str) -> String {
    format!("Invite::{id}")
}
