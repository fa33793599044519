//! Audit events, written in the same transaction as the change they record.

use rusqlite::params;

use super::{split_page, SqliteDb, StoreError};
use crate::model::AuditEvent;
use crate::store::api::*;
use crate::store::fetch_limit;

impl AuditStore for SqliteDb<'_> {
    fn insert_audit(
        &self,
        org: &str,
        actor: &str,
        action: &str,
        target: &str,
        details: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO audit_events (org_id, at, actor, action, target, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, self.now, actor, action, target, details.to_string()],
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
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, actor, action, target, details FROM audit_events
             WHERE org_id = ?1 AND (?2 IS NULL OR id < ?2)
               AND (?4 OR id >= COALESCE((SELECT audit_from FROM organizations WHERE id = ?1), ?5))
             ORDER BY id DESC LIMIT ?3",
        )?;
        let all = history == History::All;
        let rows = stmt
            .query_map(
                params![org, before, fetch_limit(limit), all, i64::MAX],
                |row| {
                    let details: String = row.get(5)?;
                    Ok(AuditEvent {
                        id: row.get::<_, i64>(0)?.to_string(),
                        at: row.get(1)?,
                        actor: row.get(2)?,
                        action: row.get(3)?,
                        target: row.get(4)?,
                        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(rows, limit))
    }
}
