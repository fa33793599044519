//! The rules of organizations, memberships and workspaces, independent of
//! HTTP. Every change runs as: take the write lock, authorize the actor
//! against the current snapshot with the Cedar policies, apply the change and
//! its audit row in one transaction, patch the snapshot from that same
//! transaction, swap it in. Decisions see a change as soon as the call returns.

mod acceptance;
mod audit;
pub mod delivery;
mod invites;
mod members;
mod orgs;
mod roles;
mod workspaces;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use base64::Engine;

use crate::authz::{Authz, Target};
use crate::model::{self, RoleKey};
use crate::snapshot::Snapshot;
use crate::store::{Db, Store, StoreError};

pub use acceptance::{Accepted, Invitee};
pub use invites::{CreateInvites, CreatedInvites, NewInvite};
pub use orgs::{CreateOrg, NewOwner};
pub use roles::{NewRole, RolePatch, RoleView, MAX_CUSTOM_ROLE_GRANTS, MAX_ROLES_PER_ORG};

/// Default and largest page sizes of lists.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;
/// Most workspaces one organization may have.
pub const MAX_WORKSPACES_PER_ORG: u64 = 10_000;

/// Errors of the domain rules.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    AlreadyMember(String),
    #[error("{0}")]
    NotAMember(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    LastOwner(String),
    #[error("{0}")]
    InviteExists(String),
    /// Unknown, expired, used, revoked or declined: one answer for all.
    #[error("no pending invite has this token")]
    InviteNotFound,
    #[error("{0}")]
    InviteNotPending(String),
    #[error("this invite was sent to another email address")]
    InviteEmailMismatch,
    #[error("{0}")]
    RateLimited(String),
    /// A custom role still held by members or pending invites.
    #[error("{0}")]
    RoleInUse(String),
    /// A built-in role, which cannot be changed or deleted.
    #[error("{0}")]
    ReadOnlyRole(String),
    #[error(transparent)]
    Random(#[from] crate::secret::RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("background task failed: {0}")]
    Task(String),
}

/// On whose behalf a call is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A system call (admin key, no actor): no policy check, invariants
    /// still hold, audited as `system` (an id no user may have).
    System,
    /// An end user of the host, checked against the policies.
    User(String),
}

impl Actor {
    pub fn audit_name(&self) -> &str {
        match self {
            Self::System => model::SYSTEM_ACTOR,
            Self::User(id) => id,
        }
    }

    /// The actor an audit name (or an invite's `invited_by`) stands for.
    pub fn from_audit_name(name: &str) -> Self {
        if name == model::SYSTEM_ACTOR {
            Self::System
        } else {
            Self::User(name.to_owned())
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::System => None,
            Self::User(id) => Some(id),
        }
    }
}

/// Which page of a list: at most `limit` items after the opaque `cursor`.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl Paging {
    fn limit(&self) -> Result<usize, DomainError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(DomainError::Invalid(format!(
                "`limit` must be between 1 and {MAX_PAGE}, not {n}"
            ))),
        }
    }

    /// The row number the cursor encodes, for lists ordered by row.
    fn after_row(&self) -> Result<Option<i64>, DomainError> {
        self.after()?
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| DomainError::Invalid("`cursor` is not valid".into()))
            })
            .transpose()
    }

    /// The sort key the cursor encodes.
    fn after(&self) -> Result<Option<String>, DomainError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| DomainError::Invalid(format!("`cursor` `{cursor}` is not valid")))
    }
}

pub(super) fn cursor_for(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

/// Builds a page from `(items, more)`, the cursor being the last item's key.
fn page<T>((items, more): (Vec<T>, bool), key: impl Fn(&T) -> String) -> model::Page<T> {
    let next_cursor = if more {
        items.last().map(|last| cursor_for(&key(last)))
    } else {
        None
    };
    model::Page { items, next_cursor }
}

/// The organization, membership and workspace service.
#[derive(Debug, Clone)]
pub struct Tenancy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    authz: Arc<Authz>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    invites: InviteSettings,
    /// Most grant policies custom roles may hold across all organizations.
    max_role_grants: usize,
    /// Wakes the mail sender when a message is queued.
    mail_wakeup: Arc<tokio::sync::Notify>,
    /// One writer at a time, so that authorization, commit and snapshot
    /// patch happen in commit order.
    write_lock: Mutex<()>,
}

/// The invitation rules that are settings.
#[derive(Debug, Clone)]
pub struct InviteSettings {
    /// Expiry when a request names none, in days.
    pub default_expiry_days: u32,
    /// Invites an organization may create or resend per hour.
    pub rate_per_hour: u32,
    /// The accept link; `{token}` is replaced by the token.
    pub accept_url_template: String,
}

impl Default for InviteSettings {
    fn default() -> Self {
        Self {
            default_expiry_days: 7,
            rate_per_hour: 500,
            accept_url_template: "http://localhost:3000/invites/accept?token={token}".into(),
        }
    }
}

impl Tenancy {
    pub fn new(
        store: Arc<Store>,
        authz: Arc<Authz>,
        snapshot: Arc<ArcSwap<Snapshot>>,
        invites: InviteSettings,
        max_role_grants: usize,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                authz,
                snapshot,
                invites,
                max_role_grants,
                mail_wakeup: Arc::new(tokio::sync::Notify::new()),
                write_lock: Mutex::new(()),
            }),
        }
    }

    /// Runs blocking work on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| DomainError::Task(e.to_string()))?
    }
}

/// Context for a change: the transaction and the snapshot it authorizes against.
struct Change<'a, 'c> {
    db: &'a Db<'c>,
    snapshot: &'a Snapshot,
    inner: &'a Inner,
}

impl Change<'_, '_> {
    fn authorize(
        &self,
        actor: &Actor,
        action: &str,
        target: Target<'_>,
        context: &[(&str, &str)],
    ) -> Result<(), DomainError> {
        self.inner
            .authorize(self.snapshot, actor, action, target, context)
    }

    fn audit(
        &self,
        org: &str,
        actor: &Actor,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> Result<(), DomainError> {
        Ok(self
            .db
            .insert_audit(org, actor.audit_name(), action, target, &details)?)
    }

    /// Checks that `role` exists in `org` and that the actor may hand it
    /// out: for a custom role, the actor must hold every one of its
    /// permissions (no one grants more than they have).
    fn require_grantable(
        &self,
        actor: &Actor,
        org: &str,
        role: &RoleKey,
    ) -> Result<(), DomainError> {
        self.require_role_within_rights(actor, org, role, "grant")
    }

    /// Taking a role away needs the same rights as granting it.
    fn require_revocable(
        &self,
        actor: &Actor,
        org: &str,
        role: &RoleKey,
    ) -> Result<(), DomainError> {
        self.require_role_within_rights(actor, org, role, "take away")
    }

    fn require_role_within_rights(
        &self,
        actor: &Actor,
        org: &str,
        role: &RoleKey,
        verb: &str,
    ) -> Result<(), DomainError> {
        let Some(key) = role.custom() else {
            return Ok(());
        };
        let Some(def) = self.db.get_custom_role(org, key)? else {
            return Err(DomainError::Invalid(format!(
                "organization `{org}` has no role `{key}`"
            )));
        };
        let Actor::User(user) = actor else {
            return Ok(());
        };
        roles::require_holds(
            self,
            user,
            org,
            &def.permissions,
            &format!("{verb} role `{key}`"),
        )
    }

    fn require_org(&self, org: &str) -> Result<(), DomainError> {
        if self.db.org_exists(org)? {
            Ok(())
        } else {
            Err(DomainError::NotFound(format!("organization `{org}`")))
        }
    }
}

impl Inner {
    fn authorize(
        &self,
        snapshot: &Snapshot,
        actor: &Actor,
        action: &str,
        target: Target<'_>,
        context: &[(&str, &str)],
    ) -> Result<(), DomainError> {
        let Actor::User(user) = actor else {
            return Ok(());
        };
        let decision = self.authz.check(snapshot, user, action, target, context);
        if decision.allowed() {
            Ok(())
        } else {
            let on = match target {
                Target::Org(id) => format!("organization `{id}`"),
                Target::Workspace(id) => format!("workspace `{id}`"),
            };
            Err(DomainError::Forbidden(format!(
                "user `{user}` may not `{action}` on {on}"
            )))
        }
    }

    /// Authorizes a read against the current snapshot.
    fn authorize_read(
        &self,
        actor: &Actor,
        action: &str,
        target: Target<'_>,
    ) -> Result<(), DomainError> {
        let snapshot = self.snapshot.load();
        self.authorize(&snapshot, actor, action, target, &[])
    }

    /// Applies a change to organization `org` (see the module comment).
    fn change_org<T: Send>(
        &self,
        org: &str,
        work: impl FnOnce(&Change<'_, '_>) -> Result<T, DomainError> + Send,
    ) -> Result<T, DomainError> {
        self.change_org_with(org, false, work)
    }

    /// Like `change_org`; with `roles`, the change touches `org`'s custom
    /// roles, so the policy set is rebuilt with them and checked before the
    /// commit, and served with the new snapshot before the call returns.
    fn change_org_with<T: Send>(
        &self,
        org: &str,
        roles: bool,
        work: impl FnOnce(&Change<'_, '_>) -> Result<T, DomainError> + Send,
    ) -> Result<T, DomainError> {
        let _writer = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = self.snapshot.load_full();
        let ((value, access, prepared), revision) = self.store.write(|db| {
            let value = work(&Change {
                db,
                snapshot: &snapshot,
                inner: self,
            })?;
            let access = db.load_org_access(org)?;
            let prepared = if roles {
                let grants = db
                    .list_custom_roles(Some(org))?
                    .into_iter()
                    .map(roles::grants_of)
                    .collect();
                let prepared = self.authz.prepare_org_roles(org, grants).map_err(|e| {
                    DomainError::Invalid(format!("the roles do not make a valid policy set: {e}"))
                })?;
                self.check_role_grants(&prepared)?;
                Some(prepared)
            } else {
                None
            };
            Ok::<_, DomainError>((value, access, prepared))
        })?;
        if let Some(prepared) = prepared {
            self.authz.install_roles(prepared);
        }
        self.snapshot
            .store(Arc::new(snapshot.with_org(org, access, revision)));
        Ok(value)
    }

    /// Refuses a change that would take the custom roles of all
    /// organizations together over `max_role_grants` grant policies. A
    /// change that does not add grants passes, so roles can always be
    /// trimmed or deleted (also when the limit was lowered below them).
    fn check_role_grants(&self, prepared: &crate::authz::PreparedRoles) -> Result<(), DomainError> {
        let after = prepared.grant_count();
        if after > self.max_role_grants && after > self.authz.grant_count() {
            return Err(DomainError::Invalid(format!(
                "custom roles may hold at most {} grants (permissions of custom roles) across all organizations together; this change would make {after}",
                self.max_role_grants
            )));
        }
        Ok(())
    }

    /// Applies a change that decisions do not read (invites, mail): same
    /// lock and authorization, no data revision and no snapshot patch.
    fn change_untracked<T: Send>(
        &self,
        work: impl FnOnce(&Change<'_, '_>) -> Result<T, DomainError> + Send,
    ) -> Result<T, DomainError> {
        let _writer = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snapshot = self.snapshot.load_full();
        self.store.write_untracked(|db| {
            work(&Change {
                db,
                snapshot: &snapshot,
                inner: self,
            })
        })
    }

    fn require_org_read(&self, org: &str) -> Result<(), DomainError> {
        if self.snapshot.load().org_exists(org) {
            Ok(())
        } else {
            Err(DomainError::NotFound(format!("organization `{org}`")))
        }
    }
}

fn check_id(what: &str, id: &str) -> Result<(), DomainError> {
    if model::is_valid_id(id) {
        Ok(())
    } else {
        Err(DomainError::Invalid(format!(
            "{what} `{}` is not a valid id (1-128 characters of A-Z a-z 0-9 . _ : @ -)",
            id.chars().take(140).collect::<String>()
        )))
    }
}

/// Like `check_id` for an id that names a user: `system` is reserved for
/// system calls, so no user can be mistaken for one in the audit log or
/// `invited_by`.
fn check_user_id(what: &str, id: &str) -> Result<(), DomainError> {
    check_id(what, id)?;
    if model::is_reserved_user_id(id) {
        return Err(DomainError::Invalid(format!(
            "{what} `{id}` is reserved: `{}` names system calls and is never a user id",
            model::SYSTEM_ACTOR
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<String, DomainError> {
    if model::is_valid_name(name) {
        Ok(name.trim().to_owned())
    } else {
        Err(DomainError::Invalid(format!(
            "`name` must be 1-{} characters without control, format (bidi, zero-width) or other invisible characters",
            model::MAX_NAME_LEN
        )))
    }
}

fn check_email(email: &str) -> Result<String, DomainError> {
    model::normalize_email(email).ok_or_else(|| {
        DomainError::Invalid(format!(
            "`{}` is not a valid email address",
            email.chars().take(260).collect::<String>()
        ))
    })
}

fn parse_role(role: &str) -> Result<RoleKey, DomainError> {
    role.parse().map_err(|e: model::UnknownRole| {
        DomainError::Invalid(format!(
            "{e}: expected owner, admin, accounting, member or the key of a custom role"
        ))
    })
}
