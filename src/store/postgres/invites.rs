//! Invites and their token hashes. `invites.seq` stands where SQLite uses
//! the rowid: it orders lists and is the value of their cursors.

use crate::store::fetch_limit;
use postgres::Row;

use super::super::{parse_column, split_page, StoreError};
use super::PgDb;
use crate::model::{Invite, InviteStatus, RoleKey};
use crate::store::api::*;

/// The invite columns, with the status as it reads now (`$1` is bound to
/// the time stamp of the unit of work by every caller) and the delivery of
/// its latest outbox row.
const INVITE_SELECT: &str = "
    SELECT i.id, i.org_id, i.email, i.role,
           CASE WHEN i.status = 'pending' AND i.expires_at <= $1 THEN 'expired' ELSE i.status END,
           i.invited_by, i.created_at, i.expires_at, i.accepted_at, i.accepted_by,
           m.status, m.attempts, m.last_error, i.seq
    FROM invites i
    LEFT JOIN mail_outbox m ON m.id = (SELECT MAX(id) FROM mail_outbox WHERE invite_id = i.id)";

struct InviteRow {
    invite: Invite,
    seq: i64,
}

fn invite_from_row(row: &Row) -> Result<InviteRow, StoreError> {
    let role: String = row.try_get(3)?;
    let status: String = row.try_get(4)?;
    let mail_status: Option<String> = row.try_get(10)?;
    let attempts: Option<i64> = row.try_get(11)?;
    let last_error: Option<String> = row.try_get(12)?;
    let delivery = crate::store::delivery(mail_status.as_deref(), attempts, last_error);
    Ok(InviteRow {
        invite: Invite {
            id: row.try_get(0)?,
            org_id: row.try_get(1)?,
            email: row.try_get(2)?,
            role: parse_column(role, "role")?,
            status: parse_column(status, "invite status")?,
            invited_by: row.try_get(5)?,
            created_at: row.try_get(6)?,
            expires_at: row.try_get(7)?,
            accepted_at: row.try_get(8)?,
            accepted_by: row.try_get(9)?,
            delivery,
        },
        seq: row.try_get(13)?,
    })
}

impl InviteStore for PgDb<'_> {
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
        self.execute(
            "INSERT INTO invites (id, org_id, email, role, status, invited_by, ttl_days, created_at, expires_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $7)",
            &[
                &id,
                &org,
                &email,
                &role.as_str(),
                &invited_by,
                &i64::from(ttl_days),
                &self.now_str(),
                &expires_at,
            ],
        )?;
        Ok(())
    }

    fn get_invite(&self, org: &str, id: &str) -> Result<Option<Invite>, StoreError> {
        let sql = format!("{INVITE_SELECT} WHERE i.org_id = $2 AND i.id = $3");
        self.query_opt(&sql, &[&self.now_str(), &org, &id])?
            .map(|row| invite_from_row(&row).map(|r| r.invite))
            .transpose()
    }

    fn list_invites(
        &self,
        org: &str,
        filter: &InviteFilter<'_>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<(Vec<(i64, Invite)>, bool), StoreError> {
        // The casts give the optional parameters a type where SQL alone
        // cannot infer one (`$n IS NULL`).
        let sql = format!(
            "{INVITE_SELECT}
             WHERE i.org_id = $2
               AND ($3::BIGINT IS NULL OR i.seq < $3)
               AND ($4::TEXT IS NULL OR i.email = $4)
               AND ($5::TEXT IS NULL
                    OR ($5 = 'expired' AND (i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= $1)))
                    OR ($5 = 'pending' AND i.status = 'pending' AND i.expires_at > $1)
                    OR ($5 NOT IN ('pending', 'expired') AND i.status = $5))
             ORDER BY i.seq DESC LIMIT $6"
        );
        let rows = self.query(
            &sql,
            &[
                &self.now_str(),
                &org,
                &before,
                &filter.email,
                &filter.status.map(InviteStatus::as_str),
                &fetch_limit(limit),
            ],
        )?;
        let rows = rows
            .iter()
            .map(|row| invite_from_row(row).map(|r| (r.seq, r.invite)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(rows, limit))
    }

    fn pending_invites_sent_by(&self, org: &str, user: &str) -> Result<Vec<Invite>, StoreError> {
        let sql = format!(
            "{INVITE_SELECT}
             WHERE i.org_id = $2 AND i.invited_by = $3
               AND i.status = 'pending' AND i.expires_at > $1
             ORDER BY i.seq"
        );
        self.query(&sql, &[&self.now_str(), &org, &user])?
            .iter()
            .map(|row| invite_from_row(row).map(|r| r.invite))
            .collect()
    }

    fn invite_by_token(&self, token_hash: &str) -> Result<Option<Invite>, StoreError> {
        let sql = format!(
            "{INVITE_SELECT} WHERE i.id = (SELECT invite_id FROM invite_tokens WHERE token_hash = $2)"
        );
        self.query_opt(&sql, &[&self.now_str(), &token_hash])?
            .map(|row| invite_from_row(&row).map(|r| r.invite))
            .transpose()
    }

    fn insert_invite_token(
        &self,
        token_hash: &str,
        invite: &str,
        kind: &str,
        outbox: Option<i64>,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO invite_tokens (token_hash, invite_id, kind, outbox_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&token_hash, &invite, &kind, &outbox, &self.now_str()],
        )?;
        Ok(())
    }

    fn delete_invite_tokens(&self, invite: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM invite_tokens WHERE invite_id = $1", &[&invite])?;
        Ok(())
    }

    fn expire_stale_invites_for(&self, org: &str, email: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "UPDATE invites SET status = 'expired', updated_at = $3
             WHERE org_id = $1 AND email = $2 AND status = 'pending' AND expires_at <= $3
             RETURNING id",
            &[&org, &email, &self.now_str()],
        )?
        .iter()
        .map(|row| Ok(row.try_get(0)?))
        .collect()
    }

    fn expire_due_invites(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        // Which invites a short batch takes is unspecified in SQLite too;
        // the oldest expiry first keeps batches deterministic here.
        self.query(
            "UPDATE invites SET status = 'expired', updated_at = $1
             WHERE id IN (SELECT id FROM invites WHERE status = 'pending' AND expires_at <= $1
                          ORDER BY expires_at, seq LIMIT $2)
             RETURNING org_id, id, email",
            &[&self.now_str(), &(fetch_limit(limit) - 1)],
        )?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect()
    }

    fn has_pending_invite(&self, org: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM invites WHERE org_id = $1 AND email = $2 AND status = 'pending' AND expires_at > $3",
                &[&org, &email, &self.now_str()],
            )?
            .is_some())
    }

    fn member_has_email(&self, org: &str, email: &str) -> Result<bool, StoreError> {
        // `LIMIT 1`: several members may share an email, and `query_opt`
        // refuses more than one row where SQLite takes the first.
        Ok(self
            .query_opt(
                "SELECT 1 FROM org_members WHERE org_id = $1 AND email = $2 LIMIT 1",
                &[&org, &email],
            )?
            .is_some())
    }

    fn set_invite_role(&self, id: &str, role: &RoleKey) -> Result<(), StoreError> {
        self.execute(
            "UPDATE invites SET role = $2, updated_at = $3 WHERE id = $1",
            &[&id, &role.as_str(), &self.now_str()],
        )?;
        Ok(())
    }

    fn end_invite(
        &self,
        id: &str,
        status: InviteStatus,
        accepted_by: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE invites SET status = $2, updated_at = $3,
                    accepted_at = CASE WHEN $4::TEXT IS NULL THEN NULL ELSE $3 END, accepted_by = $4
             WHERE id = $1 AND status = 'pending' AND expires_at > $3",
            &[&id, &status.as_str(), &self.now_str(), &accepted_by],
        )?;
        Ok(n == 1)
    }

    fn restart_invite(&self, id: &str, expires_at: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE invites SET expires_at = $2, updated_at = $3 WHERE id = $1",
            &[&id, &expires_at, &self.now_str()],
        )?;
        Ok(())
    }

    fn invite_ttl_days(&self, id: &str) -> Result<u32, StoreError> {
        // An unknown id is an error, as SQLite's `query_row` makes it, and
        // not `query_one`'s row-count error: that carries no SQL state, so
        // it would count as the database being unavailable.
        let row = self
            .query_opt("SELECT ttl_days FROM invites WHERE id = $1", &[&id])?
            .ok_or_else(|| StoreError::Corrupt(format!("no invite `{id}`")))?;
        let days: i64 = row.try_get(0)?;
        Ok(u32::try_from(days).unwrap_or(1))
    }

    fn count_invite_sends_since(&self, org: &str, since: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .query_one(
                "SELECT COUNT(*) FROM audit_events
                 WHERE org_id = $1 AND action IN ('invite.create', 'invite.resend') AND at > $2
                   AND id >= (SELECT audit_from FROM organizations WHERE id = $1)",
                &[&org, &since],
            )?
            .try_get(0)?;
        Ok(n.try_into().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests;
