//! Reading an organization's audit log.

use super::{DomainError, Paging, Tenancy};
use crate::authz::Target;
use crate::model::{AuditEvent, Page};
use crate::store::History;

impl Tenancy {
    /// The audit events of `org`, newest first. The log outlives the
    /// organization, but reading it needs `audit.read` on a live one, so
    /// after deletion only a system call can read it; an actor gets
    /// `not_found`, as for any organization that does not exist. (A deleted
    /// id is never given to another organization, and the store keeps an
    /// actor to the rows of the live organization besides.)
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
            let history = if actor == super::Actor::System {
                History::All
            } else {
                History::Live
            };
            let rows = inner
                .store
                .read(|db| db.list_audit(&org, history, before, limit))?;
            Ok(super::page(rows, |e| e.id.clone()))
        })
        .await
    }
}
