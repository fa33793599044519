//! The mail outbox: messages written with their invite, delivered later.

use super::super::{parse_column, StoreError};
use super::PgDb;
use crate::model::OutboxItem;
use crate::store::api::*;
use crate::store::fetch_limit;

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

#[cfg(test)]
mod tests {
    use super::super::compare_steps::{run_both, show, Dbs, Step};
    use crate::model::{OrgRole, RoleKey};

    const PAST: &str = "2000-01-01T00:00:00.000000Z";
    const FUTURE: &str = "2999-01-01T00:00:00.000000Z";

    fn setup(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(format!("{}", db.fx.add_org("o1", "One")));
        db.fx.add_member("o1", "u1", "boss@x.test");
        let member = OrgRole::Member.into();
        // By a member (the mail names their email), by the system (its id),
        // and one already expired.
        for (id, by, expires) in [
            ("i1", "u1", FUTURE),
            ("i2", "system", FUTURE),
            ("i3", "u1", PAST),
        ] {
            let email = format!("{id}@x.test");
            out.push(show(
                db.inv
                    .insert_invite(id, "o1", &email, &member, by, 7, expires),
            ));
            out.push(show(db.out.enqueue_invite_mail(id, &email)));
        }
        out.push(show(db.out.outbox_depth()));
        for limit in [0, 2, 10] {
            out.push(show(db.out.due_mail(limit)));
        }
    }

    fn deliveries(db: &Dbs<'_>, out: &mut Vec<String>) {
        for id in [1, 2, 3, 99] {
            out.push(show(db.out.mail_still_wanted(id)));
        }
        out.push(show(db.out.add_mail_token(1, "i1", "t1")));
        out.push(show(db.out.add_mail_token(1, "i1", "t2")));
        out.push(show(db.inv.invite_by_token("t2")));
        out.push(show(db.out.mark_mail_sent(1)));
        out.push(show(db.out.mark_mail_failed(2, "busy", Some(FUTURE))));
        out.push(show(db.out.mark_mail_failed(3, "refused", None)));
        out.push(show(db.out.mark_mail_sent(99)));
        out.push(show(db.out.due_mail(10)));
        out.push(show(db.out.outbox_depth()));
        for id in [1, 2, 3] {
            out.push(show(db.out.mail_still_wanted(id)));
        }
        for invite in ["i1", "i2", "i3"] {
            out.push(show(db.inv.get_invite("o1", invite)));
        }
    }

    fn retries_and_cancels(db: &Dbs<'_>, out: &mut Vec<String>) {
        // A retry due already comes back with its attempts counted.
        let again = db.out.enqueue_invite_mail("i1", "i1@x.test").unwrap_or(-1);
        out.push(format!("{again}"));
        out.push(show(db.out.mark_mail_failed(again, "later", Some(PAST))));
        out.push(show(db.out.due_mail(10)));
        out.push(show(db.out.cancel_invite_mail("i2")));
        out.push(show(db.out.cancel_invite_mail("i3")));
        out.push(show(db.out.outbox_depth()));
        out.push(show(db.inv.get_invite("o1", "i2")));
        out.push(show(db.inv.get_invite("o1", "i1")));
        out.push(show(db.out.mark_mail_sent(4)));
        out.push(show(db.out.outbox_depth()));
    }

    // The failures last, one a step (see `run_both`).
    fn mail_of_no_invite(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(show(db.out.enqueue_invite_mail("nope", "x@x.test")));
    }

    fn duplicate_token(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(show(db.out.add_mail_token(2, "i2", "t1")));
    }

    fn corrupt_role(db: &Dbs<'_>, out: &mut Vec<String>) {
        let bad = RoleKey::Custom("Not A Key".into());
        out.push(show(db.inv.set_invite_role("i2", &bad)));
        out.push(show(db.out.mark_mail_failed(2, "retry", Some(PAST))));
        out.push(show(db.out.due_mail(10)));
    }

    #[test]
    fn the_outbox_answers_as_on_sqlite() {
        let steps: &[Step] = &[
            setup,
            deliveries,
            retries_and_cancels,
            mail_of_no_invite,
            duplicate_token,
            corrupt_role,
        ];
        let Some(answers) = run_both("outbox", steps) else {
            return;
        };
        let text = answers.join("\n");
        for expected in [
            "constraint",
            "corrupt: bad role",
            "inviter: \"boss@x.test\"",
            "inviter: \"system\"",
            "last_error: None",
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }
}
