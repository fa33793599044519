//! Reading an organization's audit log.

use super::{DomainError, Paging, Tenancy};
use crate::authz::Target;
use crate::model::{AuditEvent, Page};

impl Tenancy {
    /// The audit events of `org`, newest first. The log outlives the
    /// organization, but reading it needs `audit.read` on a live one, so
    /// after deletion only a system call can read it.
    pub async fn audit_log(
        &self,
        actor: super::Actor,
        org: String,
        paging: Paging,
    ) -> Result<Page<AuditEvent>, DomainError> {
        let limit = paging.limit()?;
        let before = paging.after_row()?;
        self.run(move |inner| {
            if actor != super::Actor::System {
                inner.require_org_read(&org)?;
            }
            inner.authorize_read(&actor, "audit.read", Target::Org(&org))?;
            let rows = inner.store.read(|db| db.list_audit(&org, before, limit))?;
            Ok(super::page(rows, |e| e.id.clone()))
        })
        .await
    }
}
