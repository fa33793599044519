//! Plain domain types shared by the store, the snapshot, the domain rules and
//! the HTTP layer. No dependency beyond serde lives here, except the text
//! rules of `text` (ids, emails, names), which use unicode-normalization.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod text;
pub use text::{
    fold_name, is_reserved_user_id, is_valid_id, is_valid_name, is_valid_user_id, normalize_email,
    MAX_EMAIL_LEN, MAX_ID_LEN, MAX_NAME_LEN, SYSTEM_ACTOR,
};

/// A role in an organization. Rank: owner > admin > member, and accounting is
/// a member with billing rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Owner,
    Admin,
    Accounting,
    Member,
}

impl OrgRole {
    pub const ALL: [OrgRole; 4] = [Self::Owner, Self::Admin, Self::Accounting, Self::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Accounting => "accounting",
            Self::Member => "member",
        }
    }

    /// The role groups a holder of this role is in, itself first: rank is
    /// inheritance (owner ∈ admin ∈ member, accounting ∈ member).
    pub fn groups(self) -> &'static [OrgRole] {
        match self {
            Self::Owner => &[Self::Owner, Self::Admin, Self::Member],
            Self::Admin => &[Self::Admin, Self::Member],
            Self::Accounting => &[Self::Accounting, Self::Member],
            Self::Member => &[Self::Member],
        }
    }

    /// The group a group directly belongs to, if any.
    pub fn parent(self) -> Option<OrgRole> {
        match self {
            Self::Owner => Some(Self::Admin),
            Self::Admin | Self::Accounting => Some(Self::Member),
            Self::Member => None,
        }
    }
}

/// Longest custom role key.
pub const MAX_ROLE_KEY_LEN: usize = 64;

/// The role an organization member or invite holds: a built-in role, or the
/// key of one of the organization's custom roles. Stored and shown as the
/// plain key (`admin`, `developer`); built-in names are reserved, so the two
/// never collide. A custom role holder is a `member` plus the role's
/// permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleKey {
    Builtin(OrgRole),
    Custom(std::sync::Arc<str>),
}

impl RoleKey {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Builtin(r) => r.as_str(),
            Self::Custom(key) => key,
        }
    }

    pub fn builtin(&self) -> Option<OrgRole> {
        match self {
            Self::Builtin(r) => Some(*r),
            Self::Custom(_) => None,
        }
    }

    pub fn is(&self, role: OrgRole) -> bool {
        self.builtin() == Some(role)
    }

    pub fn custom(&self) -> Option<&str> {
        match self {
            Self::Builtin(_) => None,
            Self::Custom(key) => Some(key),
        }
    }
}

/// Whether `key` may name a custom role: `^[a-z][a-z0-9_-]{0,63}$` and not a
/// built-in role's name.
pub fn is_valid_role_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && key.len() <= MAX_ROLE_KEY_LEN
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && key.parse::<OrgRole>().is_err()
}

impl From<OrgRole> for RoleKey {
    fn from(role: OrgRole) -> Self {
        Self::Builtin(role)
    }
}

impl FromStr for RoleKey {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(role) = s.parse::<OrgRole>() {
            Ok(Self::Builtin(role))
        } else if is_valid_role_key(s) {
            Ok(Self::Custom(std::sync::Arc::from(s)))
        } else {
            Err(UnknownRole(s.to_owned()))
        }
    }
}

impl fmt::Display for RoleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RoleKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RoleKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A custom role of an organization: its stable key, what people call it,
/// and the permissions (grantable actions) it adds to `member`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CustomRole {
    pub org_id: String,
    pub key: String,
    pub name: String,
    pub description: String,
    /// Sorted, without duplicates.
    pub permissions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A role in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceRole {
    Admin,
    Member,
}

impl WorkspaceRole {
    pub const ALL: [WorkspaceRole; 2] = [Self::Admin, Self::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    pub fn groups(self) -> &'static [WorkspaceRole] {
        match self {
            Self::Admin => &[Self::Admin, Self::Member],
            Self::Member => &[Self::Member],
        }
    }

    pub fn parent(self) -> Option<WorkspaceRole> {
        match self {
            Self::Admin => Some(Self::Member),
            Self::Member => None,
        }
    }
}

/// A role name that is not one of the known roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for OrgRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl FromStr for WorkspaceRole {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

impl fmt::Display for OrgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for WorkspaceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope of an API key.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Decision endpoints only.
    Check,
    /// Management calls on behalf of an actor, and decisions.
    Manage,
    /// Everything, including system calls and policy administration.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Manage => "manage",
            Self::Admin => "admin",
        }
    }

    /// Whether a key of this scope may make a call that needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "check" => Ok(Self::Check),
            "manage" => Ok(Self::Manage),
            "admin" => Ok(Self::Admin),
            other => Err(UnknownScope(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`: expected check, manage or admin")]
pub struct UnknownScope(pub String);

/// An organization as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub member_count: u64,
}

/// An organization membership as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    /// A built-in role or the key of a custom role.
    #[schema(value_type = String)]
    pub role: RoleKey,
    pub joined_at: String,
}

/// An organization a user belongs to, with the user's role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UserOrg {
    pub org: Org,
    #[schema(value_type = String)]
    pub role: RoleKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WorkspaceMember {
    pub user_id: String,
    pub email: String,
    pub role: WorkspaceRole,
    pub added_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub id: String,
    pub at: String,
    /// The acting user's id, `system` for a system call (no user id can be
    /// `system`), or `(invitee)` for a decline.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

/// An API key's public description (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Where an invite stands. A pending invite past its expiry reads as
/// `expired` everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InviteStatus {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl InviteStatus {
    pub const ALL: [InviteStatus; 5] = [
        Self::Pending,
        Self::Accepted,
        Self::Declined,
        Self::Revoked,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl FromStr for InviteStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown invite status `{s}`"))
    }
}

/// Where an invite's email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Queued,
    Sent,
    /// Gave up after the maximum number of attempts, or cancelled.
    Failed,
    /// Created with `send_email: false`.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invite {
    pub id: String,
    pub org_id: String,
    pub email: String,
    /// A built-in role or the key of a custom role.
    #[schema(value_type = String)]
    pub role: RoleKey,
    pub status: InviteStatus,
    /// The inviting user's id, or `system` for a system call (no user id
    /// can be `system`).
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub accepted_at: Option<String>,
    pub accepted_by: Option<String>,
    pub delivery: Delivery,
}

/// An invite as create and resend return it: the only answers that ever
/// carry its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IssuedInvite {
    #[serde(flatten)]
    pub invite: Invite,
    pub token: String,
    pub accept_url: String,
}

/// What the accept page of a host shows for a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InviteLookup {
    pub org: OrgRef,
    #[schema(value_type = String)]
    pub role: RoleKey,
    pub invited_by: String,
    pub expires_at: String,
    pub status: InviteStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// A message waiting in the outbox, with what its email says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub invite_id: String,
    pub recipient: String,
    pub attempts: u32,
    pub org_id: String,
    pub org_name: String,
    pub role: RoleKey,
    /// The inviter's email when known, else their id.
    pub inviter: String,
    pub expires_at: String,
}

/// Everything about one organization that decisions need: who holds which
/// role in it and in each of its workspaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgAccess {
    pub org_id: String,
    pub members: Vec<(String, RoleKey)>,
    pub workspaces: Vec<WorkspaceAccess>,
    /// The keys of the organization's custom roles: only role groups that
    /// exist are built for a decision.
    pub custom_roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceAccess {
    pub workspace_id: String,
    pub members: Vec<(String, WorkspaceRole)>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The current time as an RFC 3339 UTC string with microseconds, which sorts
/// the same as a string and as a time.
pub fn now_rfc3339() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A fresh random id with a readable prefix, e.g. `org_5f1c…`.
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 10] = rand::random();
    format!("{prefix}_{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_groups_follow_rank() {
        assert_eq!(
            OrgRole::Owner.groups(),
            &[OrgRole::Owner, OrgRole::Admin, OrgRole::Member]
        );
        assert_eq!("accounting".parse::<OrgRole>(), Ok(OrgRole::Accounting));
        assert!("root".parse::<OrgRole>().is_err());
        assert_eq!(
            "admin".parse::<RoleKey>(),
            Ok(RoleKey::Builtin(OrgRole::Admin))
        );
        assert_eq!("dev-1".parse::<RoleKey>().unwrap().custom(), Some("dev-1"));
        for bad in ["", "Dev", "1dev", "a b", "a#b", &"x".repeat(65)] {
            assert!(bad.parse::<RoleKey>().is_err(), "{bad}");
        }
        assert!(!is_valid_role_key("owner"));
        assert!(Scope::Admin.allows(Scope::Manage));
        assert!(!Scope::Check.allows(Scope::Manage));
    }

    #[test]
    fn times_are_fixed_width_utc() {
        let t = format_time(time::macros::datetime!(2026-01-02 03:04:05.000006 UTC));
        assert_eq!(t, "2026-01-02T03:04:05.000006Z");
    }
}
