//! The mail outbox: messages written with their invite, delivered later.

use super::super::{parse_column, StoreError};
use super::invites::fetch_limit;
use super::PgDb;
use crate::model::OutboxItem;
use crate::store::api::*;

impl OutboxStore for PgDb<'_> {
    fn enqueue_invite_mail(&self, invite: &str, recipient: &str) -> Result<i64, StoreError> {
        // `RETURNING` stands for SQLite's `last_insert_rowid`.
        Ok(self
            .query_one(
                "INSERT INTO mail_outbox (invite_id, recipient, status, next_attempt_at, created_at)
                 VALUES ($1, $2, 'queued', $3, $3) RETURNING id",
                &[&invite, &recipient, &self.now_str()],
            )?
            .try_get(0)?)
    }

    fn cancel_invite_mail(&self, invite: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE mail_outbox SET status = 'cancelled', last_error = 'cancelled: the invite changed before delivery'
             WHERE invite_id = $1 AND status = 'queued'",
            &[&invite],
        )?;
        Ok(())
    }

    fn due_mail(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let rows = self.query(
            "SELECT m.id, m.invite_id, m.recipient, m.attempts, o.id, o.name, i.role,
                    COALESCE(im.email, i.invited_by), i.expires_at
             FROM mail_outbox m
             JOIN invites i ON i.id = m.invite_id
             JOIN organizations o ON o.id = i.org_id
             -- The inviter as this organization knows them.
             LEFT JOIN org_members im ON im.org_id = i.org_id AND im.user_id = i.invited_by
             WHERE m.status = 'queued' AND m.next_attempt_at <= $1
             ORDER BY m.next_attempt_at, m.id LIMIT $2",
            &[&self.now_str(), &(fetch_limit(limit) - 1)],
        )?;
        rows.iter()
            .map(|row| {
                let attempts: i64 = row.try_get(3)?;
                let role: String = row.try_get(6)?;
                Ok(OutboxItem {
                    id: row.try_get(0)?,
                    invite_id: row.try_get(1)?,
                    recipient: row.try_get(2)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    org_id: row.try_get(4)?,
                    org_name: row.try_get(5)?,
                    role: parse_column(role, "role")?,
                    inviter: row.try_get(7)?,
                    expires_at: row.try_get(8)?,
                })
            })
            .collect()
    }

    fn mail_still_wanted(&self, outbox: i64) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM mail_outbox m JOIN invites i ON i.id = m.invite_id
                 WHERE m.id = $1 AND m.status = 'queued' AND i.status = 'pending' AND i.expires_at > $2",
                &[&outbox, &self.now_str()],
            )?
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
        self.execute(
            "UPDATE mail_outbox SET status = 'sent', attempts = attempts + 1, sent_at = $2, last_error = NULL
             WHERE id = $1",
            &[&outbox, &self.now_str()],
        )?;
        Ok(())
    }

    fn mark_mail_failed(
        &self,
        outbox: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), StoreError> {
        // The cast types `$3` where `$3 IS NULL` alone cannot.
        self.execute(
            "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2,
                    status = CASE WHEN $3::TEXT IS NULL THEN 'failed' ELSE 'queued' END,
                    next_attempt_at = COALESCE($3, next_attempt_at)
             WHERE id = $1",
            &[&outbox, &error, &retry_at],
        )?;
        Ok(())
    }

    fn outbox_depth(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .query_one(
                "SELECT COUNT(*) FROM mail_outbox WHERE status = 'queued'",
                &[],
            )?
            .try_get(0)?;
        Ok(n.try_into().unwrap_or(0))
    }
}
