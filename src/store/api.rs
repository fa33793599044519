//! The store API: what the domain asks of a database, one trait per topic.
//! Each backend implements every trait on its unit of work (a transaction
//! or a read); `Tx` is all of them, and the domain holds a `&Db`.

use super::{Store, StoreError};
use crate::authz::{RoleGrants, RoleMap};
use crate::model::*;

/// Which audit rows of an organization id to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// Those of the live organization (for its members).
    Live,
    /// Every row ever written under the id (for system calls).
    All,
}

/// Filters of an invite list.
#[derive(Debug, Clone, Default)]
pub struct InviteFilter<'a> {
    pub status: Option<InviteStatus>,
    pub email: Option<&'a str>,
}

/// How many members and pending invites hold a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleUsage {
    pub members: u64,
    pub pending_invites: u64,
}

/// Every organization's custom roles, as the policy set needs them (at
/// start, and for the command-line tools).
pub fn role_map(store: &Store) -> Result<RoleMap, StoreError> {
    let mut map = RoleMap::new();
    for role in store.read(|db| db.list_custom_roles(None))? {
        map.entry(role.org_id.clone())
            .or_default()
            .push(RoleGrants {
                org: role.org_id,
                key: role.key,
                permissions: role.permissions,
            });
    }
    Ok(map)
}

/// Reading the role assignments decisions are made from.
pub trait AccessStore {
    /// Who holds which role in `org` and its workspaces; `None` when the
    /// organization does not exist.
    fn load_org_access(&self, org: &str) -> Result<Option<OrgAccess>, StoreError>;

    /// The role assignments of every organization.
    fn load_all_access(&self) -> Result<Vec<OrgAccess>, StoreError>;
}

/// The audit log.
pub trait AuditStore {
    fn insert_audit(
        &self,
        org: &str,
        actor: &str,
        action: &str,
        target: &str,
        details: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Events of `org`, newest first, older than the event id `before`.
    /// `History::Live` keeps to the live organization of that id: nothing
    /// once it is deleted, and nothing from before its creation when an
    /// earlier organization had the id (possible only in databases from
    /// before ids were retired). `History::All` is every row of the id.
    fn list_audit(
        &self,
        org: &str,
        history: History,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, bool), StoreError>;
}

/// Invites and their token hashes.
pub trait InviteStore {
    #[allow(clippy::too_many_arguments)]
    fn insert_invite(
        &self,
        id: &str,
        org: &str,
        email: &str,
        role: &RoleKey,
        invited_by: &str,
        ttl_days: u32,
        expires_at: &str,
    ) -> Result<(), StoreError>;

    fn get_invite(&self, org: &str, id: &str) -> Result<Option<Invite>, StoreError>;

    /// Invites of `org`, newest first, older than the row `before`.
    fn list_invites(
        &self,
        org: &str,
        filter: &InviteFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<(i64, Invite)>, bool), StoreError>;

    /// The invites of `org` that `user` sent and that are still pending
    /// (not expired).
    fn pending_invites_sent_by(&self, org: &str, user: &str) -> Result<Vec<Invite>, StoreError>;

    /// The invite a token opens, with its org id, whatever its status.
    fn invite_by_token(&self, token_hash: &str) -> Result<Option<Invite>, StoreError>;

    fn insert_invite_token(
        &self,
        token_hash: &str,
        invite: &str,
        kind: &str,
        outbox: Option<i64>,
    ) -> Result<(), StoreError>;

    /// Kills every token of an invite (used, rotated or ended).
    fn delete_invite_tokens(&self, invite: &str) -> Result<(), StoreError>;

    /// Marks pending-but-expired invites of `org` for `email` as expired;
    /// returns their ids (for the audit log).
    fn expire_stale_invites_for(&self, org: &str, email: &str) -> Result<Vec<String>, StoreError>;

    /// Marks up to `limit` pending invites past their expiry as expired;
    /// returns `(org, invite id, email)` of each.
    fn expire_due_invites(&self, limit: usize)
        -> Result<Vec<(String, String, String)>, StoreError>;

    fn has_pending_invite(&self, org: &str, email: &str) -> Result<bool, StoreError>;

    /// Whether a member of `org` has this email in `org`.
    fn member_has_email(&self, org: &str, email: &str) -> Result<bool, StoreError>;

    fn set_invite_role(&self, id: &str, role: &RoleKey) -> Result<(), StoreError>;

    /// Ends a pending invite with `status`; `accepted_by` for an acceptance.
    /// `false` when it was no longer pending (someone else ended it first).
    fn end_invite(
        &self,
        id: &str,
        status: InviteStatus,
        accepted_by: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Restarts the expiry of an invite (resend): `ttl_days` from now.
    fn restart_invite(&self, id: &str, expires_at: &str) -> Result<(), StoreError>;

    fn invite_ttl_days(&self, id: &str) -> Result<u32, StoreError>;

    /// How many invites were created or resent in `org` since `since`, by
    /// this organization only (not by an earlier one of the same id, see
    /// `list_audit`).
    fn count_invite_sends_since(&self, org: &str, since: &str) -> Result<u64, StoreError>;
}

/// API keys, stored as hashes.
pub trait KeyStore {
    fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        scope: Scope,
        key_hash: &str,
    ) -> Result<(), StoreError>;

    fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key by id; `false` when no active key has that id.
    fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError>;

    /// How many keys were ever created, revoked ones included.
    fn count_api_keys(&self) -> Result<u64, StoreError>;

    /// `(hash, key id, scope)` of every active key.
    fn active_api_keys(&self) -> Result<Vec<(String, String, Scope)>, StoreError>;
}

/// Organizations, users and organization memberships.
pub trait OrgStore {
    /// Inserts an organization; `false` when the id is taken or retired (the
    /// schema skips inserts of retired ids).
    fn insert_org(&self, id: &str, name: &str) -> Result<bool, StoreError>;

    fn get_org(&self, id: &str) -> Result<Option<Org>, StoreError>;

    fn org_exists(&self, id: &str) -> Result<bool, StoreError>;

    /// Whether `id` named an organization that was deleted: such an id is
    /// never given to another organization.
    fn org_id_retired(&self, id: &str) -> Result<bool, StoreError>;

    fn rename_org(&self, id: &str, name: &str) -> Result<bool, StoreError>;

    /// Deletes the organization with its workspaces, memberships and invites
    /// (by cascade). Audit rows stay; the org id and its workspace ids are
    /// retired (by trigger).
    fn delete_org(&self, id: &str) -> Result<bool, StoreError>;

    /// Records a user the first time one is seen. A known user is left as
    /// is: emails belong to memberships (each organization keeps the one it
    /// was given), so no organization's write changes what another sees.
    fn record_user(&self, id: &str, email: &str) -> Result<(), StoreError>;

    fn member_role(&self, org: &str, user: &str) -> Result<Option<RoleKey>, StoreError>;

    fn count_owners(&self, org: &str) -> Result<u64, StoreError>;

    /// Adds a membership with the email `org` knows the user by.
    fn insert_member(
        &self,
        org: &str,
        user: &str,
        role: &RoleKey,
        email: &str,
    ) -> Result<(), StoreError>;

    fn set_member_role(&self, org: &str, user: &str, role: &RoleKey) -> Result<bool, StoreError>;

    /// Removes a membership; its workspace memberships go with it (cascade).
    fn delete_member(&self, org: &str, user: &str) -> Result<bool, StoreError>;

    fn get_member(&self, org: &str, user: &str) -> Result<Option<Member>, StoreError>;

    /// Members of `org` ordered by user id, after the user id `after`.
    fn list_members(
        &self,
        org: &str,
        role: Option<&RoleKey>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Member>, bool), StoreError>;

    /// The organizations `user` belongs to, ordered by org id, after `after`.
    fn user_orgs(
        &self,
        user: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UserOrg>, bool), StoreError>;
}

/// The invitation mail outbox.
pub trait OutboxStore {
    /// Queues the invite email for `invite`; returns the outbox id.
    fn enqueue_invite_mail(&self, invite: &str, recipient: &str) -> Result<i64, StoreError>;

    /// Cancels mail of `invite` not yet sent (the invite ended or its token rotated).
    fn cancel_invite_mail(&self, invite: &str) -> Result<(), StoreError>;

    /// Up to `limit` messages due now, oldest first, with what their email says.
    fn due_mail(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;

    /// Whether the invite of a queued message is still pending and unexpired.
    fn mail_still_wanted(&self, outbox: i64) -> Result<bool, StoreError>;

    /// Records the token minted for one delivery attempt. Tokens of earlier
    /// attempts stay valid (a "failed" attempt may still have reached the
    /// invitee); all die together when the invite ends or is resent.
    fn add_mail_token(&self, outbox: i64, invite: &str, token_hash: &str)
        -> Result<(), StoreError>;

    fn mark_mail_sent(&self, outbox: i64) -> Result<(), StoreError>;

    /// Records a failed attempt: retried at `retry_at`, or given up (`None`).
    fn mark_mail_failed(
        &self,
        outbox: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Messages not yet delivered (queued, retrying).
    fn outbox_depth(&self) -> Result<u64, StoreError>;
}

/// Organizations' custom roles.
pub trait RoleStore {
    /// `false` when the organization already has a role with that key.
    fn insert_custom_role(&self, role: &CustomRole) -> Result<bool, StoreError>;

    fn update_custom_role(&self, role: &CustomRole) -> Result<(), StoreError>;

    fn delete_custom_role(&self, org: &str, key: &str) -> Result<(), StoreError>;

    fn get_custom_role(&self, org: &str, key: &str) -> Result<Option<CustomRole>, StoreError>;

    /// The key of `org`'s role named `name`, if any.
    fn custom_role_named(&self, org: &str, name: &str) -> Result<Option<String>, StoreError>;

    /// The custom roles of `org` (of every organization for `None`), by key.
    fn list_custom_roles(&self, org: Option<&str>) -> Result<Vec<CustomRole>, StoreError>;

    /// Members holding role `key` in `org`, and its invites that are still
    /// pending (unexpired: an expired invite can no longer be accepted).
    fn role_usage(&self, org: &str, key: &str) -> Result<RoleUsage, StoreError>;
}

/// Workspaces and their memberships.
pub trait WorkspaceStore {
    /// Inserts a workspace; `false` when the id is taken (in any
    /// organization) or retired (the schema skips inserts of retired ids).
    fn insert_workspace(&self, id: &str, org: &str, name: &str) -> Result<bool, StoreError>;

    fn get_workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError>;

    /// Whether `id` named a workspace that was deleted (alone or with its
    /// organization): such an id is never given to another workspace.
    fn workspace_id_retired(&self, id: &str) -> Result<bool, StoreError>;

    /// Deletes a workspace; its id is retired (by trigger).
    fn delete_workspace(&self, id: &str) -> Result<bool, StoreError>;

    fn count_workspaces(&self, org: &str) -> Result<u64, StoreError>;

    /// Workspaces of `org` ordered by id, after `after`.
    fn list_workspaces(
        &self,
        org: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Workspace>, bool), StoreError>;

    fn workspace_role(&self, ws: &str, user: &str) -> Result<Option<WorkspaceRole>, StoreError>;

    /// Gives `user` (who must be a member of `org`) `role` in the workspace.
    fn set_workspace_member(
        &self,
        ws: &str,
        org: &str,
        user: &str,
        role: WorkspaceRole,
    ) -> Result<(), StoreError>;

    fn get_workspace_member(
        &self,
        ws: &str,
        user: &str,
    ) -> Result<Option<WorkspaceMember>, StoreError>;

    fn delete_workspace_member(&self, ws: &str, user: &str) -> Result<bool, StoreError>;

    fn list_workspace_members(
        &self,
        ws: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<WorkspaceMember>, bool), StoreError>;
}
