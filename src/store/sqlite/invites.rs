//! Invites and their token hashes.

use rusqlite::{params, OptionalExtension};

use super::{parse_column, split_page, SqliteDb, StoreError};
use crate::model::{Invite, InviteStatus, RoleKey};
use crate::store::api::*;
use crate::store::fetch_limit;

/// The invite columns, with the status as it reads now (`?now` is bound by
/// the caller) and the delivery of its latest outbox row.
const INVITE_SELECT: &str = "
    SELECT i.id, i.org_id, i.email, i.role,
           CASE WHEN i.status = 'pending' AND i.expires_at <= :now THEN 'expired' ELSE i.status END,
           i.invited_by, i.created_at, i.expires_at, i.accepted_at, i.accepted_by,
           m.status, m.attempts, m.last_error, i.rowid
    FROM invites i
    LEFT JOIN mail_outbox m ON m.id = (SELECT MAX(id) FROM mail_outbox WHERE invite_id = i.id)";

struct InviteRow {
    invite: Invite,
    rowid: i64,
}

fn invite_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<InviteRow, StoreError>> {
    let role: String = row.get(3)?;
    let status: String = row.get(4)?;
    let mail_status: Option<String> = row.get(10)?;
    let attempts: Option<i64> = row.get(11)?;
    let last_error: Option<String> = row.get(12)?;
    let build = || -> Result<InviteRow, StoreError> {
        let delivery = crate::store::delivery(mail_status.as_deref(), attempts, last_error);
        Ok(InviteRow {
            invite: Invite {
                id: row.get(0)?,
                org_id: row.get(1)?,
                email: row.get(2)?,
                role: parse_column(role, "role")?,
                status: parse_column(status, "invite status")?,
                invited_by: row.get(5)?,
                created_at: row.get(6)?,
                expires_at: row.get(7)?,
                accepted_at: row.get(8)?,
                accepted_by: row.get(9)?,
                delivery,
            },
            rowid: row.get(13)?,
        })
    };
    Ok(build())
}

impl InviteStore for SqliteDb<'_> {
    fn insert_invite(
        &self,
        id: &str,
        org: &str,
        email: &str,
        role: &RoleKey,
        invited_by: &str,
        ttl_days: u32,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO invites (id, org_id, email, role, status, invited_by, ttl_days, created_at, expires_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?7)",
            params![id, org, email, role.as_str(), invited_by, ttl_days, self.now, expires_at],
        )?;
        Ok(())
    }

    fn get_invite(&self, org: &str, id: &str) -> Result<Option<Invite>, StoreError> {
        let sql = format!("{INVITE_SELECT} WHERE i.org_id = :org AND i.id = :id");
        let row = self
            .conn
            .query_row(
                &sql,
                rusqlite::named_params! {":now": self.now, ":org": org, ":id": id},
                invite_from_row,
            )
            .optional()?;
        row.transpose().map(|r| r.map(|r| r.invite))
    }

    fn list_invites(
        &self,
        org: &str,
        filter: &InviteFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<(i64, Invite)>, bool), StoreError> {
        let sql = format!(
            "{INVITE_SELECT}
             WHERE i.org_id = :org
               AND (:before IS NULL OR i.rowid < :before)
               AND (:email IS NULL OR i.email = :email)
               AND (:status IS NULL
                    OR (:status = 'expired' AND (i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= :now)))
                    OR (:status = 'pending' AND i.status = 'pending' AND i.expires_at > :now)
                    OR (:status NOT IN ('pending', 'expired') AND i.status = :status))
             ORDER BY i.rowid DESC LIMIT :limit"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                rusqlite::named_params! {
                    ":now": self.now,
                    ":org": org,
                    ":before": before,
                    ":email": filter.email,
                    ":status": filter.status.map(InviteStatus::as_str),
                    ":limit": fetch_limit(limit),
                },
                invite_from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let rows = rows
            .into_iter()
            .map(|r| r.map(|r| (r.rowid, r.invite)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(rows, limit))
    }

    fn pending_invites_sent_by(&self, org: &str, user: &str) -> Result<Vec<Invite>, StoreError> {
        let sql = format!(
            "{INVITE_SELECT}
             WHERE i.org_id = :org AND i.invited_by = :user
               AND i.status = 'pending' AND i.expires_at > :now
             ORDER BY i.rowid"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(
                rusqlite::named_params! {":now": self.now, ":org": org, ":user": user},
                invite_from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|r| r.map(|r| r.invite)).collect()
    }

    fn invite_by_token(&self, token_hash: &str) -> Result<Option<Invite>, StoreError> {
        let sql = format!(
            "{INVITE_SELECT} WHERE i.id = (SELECT invite_id FROM invite_tokens WHERE token_hash = :hash)"
        );
        let row = self
            .conn
            .query_row(
                &sql,
                rusqlite::named_params! {":now": self.now, ":hash": token_hash},
                invite_from_row,
            )
            .optional()?;
        row.transpose().map(|r| r.map(|r| r.invite))
    }

    fn insert_invite_token(
        &self,
        token_hash: &str,
        invite: &str,
        kind: &str,
        outbox: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO invite_tokens (token_hash, invite_id, kind, outbox_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, invite, kind, outbox, self.now],
        )?;
        Ok(())
    }

    fn delete_invite_tokens(&self, invite: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM invite_tokens WHERE invite_id = ?1", [invite])?;
        Ok(())
    }

    fn expire_stale_invites_for(&self, org: &str, email: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE invites SET status = 'expired', updated_at = ?3
             WHERE org_id = ?1 AND email = ?2 AND status = 'pending' AND expires_at <= ?3
             RETURNING id",
        )?;
        let ids = stmt
            .query_map(params![org, email, self.now], |row| row.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    fn expire_due_invites(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE invites SET status = 'expired', updated_at = ?1
             WHERE id IN (SELECT id FROM invites WHERE status = 'pending' AND expires_at <= ?1 LIMIT ?2)
             RETURNING org_id, id, email",
        )?;
        let rows = stmt
            .query_map(params![self.now, fetch_limit(limit) - 1], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn has_pending_invite(&self, org: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM invites WHERE org_id = ?1 AND email = ?2 AND status = 'pending' AND expires_at > ?3",
                params![org, email, self.now],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn member_has_email(&self, org: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM org_members WHERE org_id = ?1 AND email = ?2",
                [org, email],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn set_invite_role(&self, id: &str, role: &RoleKey) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE invites SET role = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, role.as_str(), self.now],
        )?;
        Ok(())
    }

    fn end_invite(
        &self,
        id: &str,
        status: InviteStatus,
        accepted_by: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE invites SET status = ?2, updated_at = ?3,
                    accepted_at = CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END, accepted_by = ?4
             WHERE id = ?1 AND status = 'pending' AND expires_at > ?3",
            params![id, status.as_str(), self.now, accepted_by],
        )?;
        Ok(n == 1)
    }

    fn restart_invite(&self, id: &str, expires_at: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE invites SET expires_at = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, expires_at, self.now],
        )?;
        Ok(())
    }

    fn invite_ttl_days(&self, id: &str) -> Result<u32, StoreError> {
        let days: i64 =
            self.conn
                .query_row("SELECT ttl_days FROM invites WHERE id = ?1", [id], |row| {
                    row.get(0)
                })?;
        Ok(u32::try_from(days).unwrap_or(1))
    }

    fn count_invite_sends_since(&self, org: &str, since: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM audit_events
             WHERE org_id = ?1 AND action IN ('invite.create', 'invite.resend') AND at > ?2
               AND id >= (SELECT audit_from FROM organizations WHERE id = ?1)",
            params![org, since],
            |row| row.get(0),
        )?;
        Ok(n.try_into().unwrap_or(0))
    }
}
