//! Audit events, written in the same transaction as the change they record
//! (the PostgreSQL port of `sqlite/audit.rs`).

use super::super::{split_page, StoreError};
use super::orgs::fetch_limit;
use super::PgDb;
use crate::model::AuditEvent;
use crate::store::api::*;

impl AuditStore for PgDb<'_> {
    fn insert_audit(
        &self,
        org: &str,
        actor: &str,
        action: &str,
        target: &str,
        details: &serde_json::Value,
    ) -> Result<(), StoreError> {
        // Details are stored as JSON text, as in SQLite, so both backends
        // give back the same bytes.
        self.execute(
            "INSERT INTO audit_events (org_id, at, actor, action, target, details)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &org,
                &self.now_str(),
                &actor,
                &action,
                &target,
                &details.to_string(),
            ],
        )?;
        Ok(())
    }

    fn list_audit(
        &self,
        org: &str,
        history: History,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<AuditEvent>, bool), StoreError> {
        // `Live` without a live organization: the COALESCE falls back to
        // i64::MAX, so no row qualifies (as in SQLite). The cast gives the
        // driver a type for a parameter that may be NULL.
        let all = history == History::All;
        let rows = self.query(
            "SELECT id, at, actor, action, target, details FROM audit_events
             WHERE org_id = $1 AND ($2::BIGINT IS NULL OR id < $2)
               AND ($4 OR id >= COALESCE((SELECT audit_from FROM organizations WHERE id = $1), $5))
             ORDER BY id DESC LIMIT $3",
            &[&org, &before, &fetch_limit(limit), &all, &i64::MAX],
        )?;
        let events = rows
            .iter()
            .map(|row| {
                let details: String = row.try_get(5)?;
                Ok(AuditEvent {
                    id: row.try_get::<_, i64>(0)?.to_string(),
                    at: row.try_get(1)?,
                    actor: row.try_get(2)?,
                    action: row.try_get(3)?,
                    target: row.try_get(4)?,
                    // Unreadable details show as null, as in SQLite.
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(split_page(events, limit))
    }
}
