//! The mail outbox: messages written with their invite, delivered later.

use rusqlite::{params, OptionalExtension};

use super::{parse_column, SqliteDb, StoreError};
use crate::model::OutboxItem;
use crate::store::api::*;
use crate::store::fetch_limit;

impl OutboxStore for SqliteDb<'_> {
    fn enqueue_invite_mail(&self, invite: &str, recipient: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO mail_outbox (invite_id, recipient, status, next_attempt_at, created_at)
             VALUES (?1, ?2, 'queued', ?3, ?3)",
            params![invite, recipient, self.now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn cancel_invite_mail(&self, invite: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE mail_outbox SET status = 'cancelled', last_error = 'cancelled: the invite changed before delivery'
             WHERE invite_id = ?1 AND status = 'queued'",
            [invite],
        )?;
        Ok(())
    }

    fn due_mail(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.id, m.invite_id, m.recipient, m.attempts, o.id, o.name, i.role,
                    COALESCE(im.email, i.invited_by), i.expires_at
             FROM mail_outbox m
             JOIN invites i ON i.id = m.invite_id
             JOIN organizations o ON o.id = i.org_id
             -- The inviter as this organization knows them.
             LEFT JOIN org_members im ON im.org_id = i.org_id AND im.user_id = i.invited_by
             WHERE m.status = 'queued' AND m.next_attempt_at <= ?1
             ORDER BY m.next_attempt_at, m.id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![self.now, fetch_limit(limit) - 1], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(
                    id,
                    invite_id,
                    recipient,
                    attempts,
                    org_id,
                    org_name,
                    role,
                    inviter,
                    expires_at,
                )| {
                    Ok(OutboxItem {
                        id,
                        invite_id,
                        recipient,
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        org_id,
                        org_name,
                        role: parse_column(role, "role")?,
                        inviter,
                        expires_at,
                    })
                },
            )
            .collect()
    }

    fn mail_still_wanted(&self, outbox: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM mail_outbox m JOIN invites i ON i.id = m.invite_id
                 WHERE m.id = ?1 AND m.status = 'queued' AND i.status = 'pending' AND i.expires_at > ?2",
                params![outbox, self.now],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn add_mail_token(
        &self,
        outbox: i64,
        invite: &str,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        self.insert_invite_token(token_hash, invite, "mail", Some(outbox))
    }

    fn mark_mail_sent(&self, outbox: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE mail_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = NULL
             WHERE id = ?1",
            params![outbox, self.now],
        )?;
        Ok(())
    }

    fn mark_mail_failed(
        &self,
        outbox: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?2,
                    status = CASE WHEN ?3 IS NULL THEN 'failed' ELSE 'queued' END,
                    next_attempt_at = COALESCE(?3, next_attempt_at)
             WHERE id = ?1",
            params![outbox, error, retry_at],
        )?;
        Ok(())
    }

    fn outbox_depth(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM mail_outbox WHERE status = 'queued'",
            [],
            |row| row.get(0),
        )?;
        Ok(n.try_into().unwrap_or(0))
    }
}
