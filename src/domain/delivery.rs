//! The mail sender: delivers the outbox in the background, never inside a
//! request. Each attempt mints the link's token at delivery time (so no
//! token waits in the database), retries with exponential backoff up to a
//! maximum number of attempts, and records the outcome on the invite.
//! Queued rows survive restarts; a crash between the SMTP server accepting
//! a message and its row being marked sent is the only way to send twice.

use std::sync::Arc;
use std::time::Duration;

use super::{DomainError, Tenancy};
use crate::mail::{InviteMail, Mailer};
use crate::model::{self, OutboxItem};
use crate::secret;

/// Messages taken per round.
const BATCH: usize = 20;
/// Longest error text kept on a message.
const MAX_ERROR_LEN: usize = 500;

/// The retry rules.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    /// How often to look for due messages when nothing wakes the sender.
    pub poll: Duration,
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failure (1-based): base × 2^(attempt-1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Runs the sender until the task is aborted.
pub fn spawn_sender(
    tenancy: Tenancy,
    mailer: Arc<Mailer>,
    retry: RetryPolicy,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let wakeup = tenancy.inner.mail_wakeup.clone();
        while !*stop.borrow() {
            match tenancy.deliver_due(&mailer, &retry, &stop).await {
                // A full batch: there may be more due right away.
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail sender round failed"),
            }
            tokio::select! {
                () = wakeup.notified() => {},
                () = tokio::time::sleep(retry.poll) => {},
                _ = stop.changed() => {},
            }
        }
        tracing::info!("mail sender stopped");
    })
}

/// Runs the expiry sweep every `interval` until the task is aborted.
pub fn spawn_sweeper(tenancy: Tenancy, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            match tenancy.sweep_expired_invites().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "recorded expired invites"),
                Err(e) => tracing::error!(error = %e, "invite expiry sweep failed"),
            }
        }
    })
}

impl Tenancy {
    /// Delivers the messages due now; returns how many were tried.
    pub async fn deliver_due(
        &self,
        mailer: &Mailer,
        retry: &RetryPolicy,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<usize, DomainError> {
        let due = self
            .run(|inner| Ok(inner.store.read(|db| db.due_mail(BATCH))?))
            .await?;
        let tried = due.len();
        for item in due {
            // On shutdown the message being sent finishes (and is recorded);
            // the rest stay queued for the next start.
            if *stop.borrow() {
                break;
            }
            self.deliver_one(mailer, retry, item).await?;
        }
        Ok(tried)
    }

    async fn deliver_one(
        &self,
        mailer: &Mailer,
        retry: &RetryPolicy,
        item: OutboxItem,
    ) -> Result<(), DomainError> {
        let token = secret::generate(super::invites::TOKEN_PREFIX)?;
        let hash = secret::hash(&token);
        let (id, invite) = (item.id, item.invite_id.clone());
        let wanted = self
            .run(move |inner| {
                inner.change_untracked(|c| {
                    if !c.db.mail_still_wanted(id)? {
                        c.db.cancel_invite_mail(&invite)?;
                        return Ok(false);
                    }
                    c.db.add_mail_token(id, &invite, &hash)?;
                    Ok(true)
                })
            })
            .await?;
        if !wanted {
            return Ok(());
        }
        let accept_url = self.inner.accept_url(&token);
        let expires = item
            .expires_at
            .get(..16)
            .map_or(item.expires_at.clone(), |d| d.replace('T', " ") + " UTC");
        let mail = InviteMail {
            to: &item.recipient,
            org_name: &item.org_name,
            inviter: &item.inviter,
            role: item.role.as_str(),
            expires_at: &expires,
            accept_url: &accept_url,
        };
        let message_id = format!("<{}.{}@tenantgate.invalid>", item.invite_id, item.id);
        let outcome = mailer.send_invite(&mail, &message_id).await;
        let attempt = item.attempts + 1;
        match &outcome {
            Ok(()) => {
                tracing::info!(invite = %item.invite_id, outbox = item.id, attempt, "invite email sent")
            }
            Err(e) => {
                tracing::warn!(invite = %item.invite_id, outbox = item.id, attempt, error = %e, "invite email not sent")
            }
        }
        let retry_at = (attempt < retry.max_attempts).then(|| {
            let wait =
                time::Duration::try_from(retry.backoff(attempt)).unwrap_or(time::Duration::HOUR);
            model::format_time(time::OffsetDateTime::now_utc() + wait)
        });
        crate::metrics::mail_delivery(match (&outcome, &retry_at) {
            (Ok(()), _) => crate::metrics::Delivery::Sent,
            (Err(_), Some(_)) => crate::metrics::Delivery::Retry,
            (Err(_), None) => crate::metrics::Delivery::Failed,
        });
        self.run(move |inner| {
            inner.change_untracked(|c| {
                match outcome {
                    Ok(()) => c.db.mark_mail_sent(id)?,
                    Err(e) => {
                        let error: String = e.to_string().chars().take(MAX_ERROR_LEN).collect();
                        c.db.mark_mail_failed(id, &error, retry_at.as_deref())?;
                    }
                }
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        };
        assert_eq!(r.backoff(1), Duration::from_secs(5));
        assert_eq!(r.backoff(2), Duration::from_secs(10));
        assert_eq!(r.backoff(4), Duration::from_secs(40));
        assert_eq!(r.backoff(5), Duration::from_secs(60));
        assert_eq!(r.backoff(40), Duration::from_secs(60));
    }
}
