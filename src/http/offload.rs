//! Where a decision runs. A small call (few host entities, few questions)
//! is decided in place: it costs microseconds, less than a hand-over to
//! another thread. A bigger one runs on the blocking pool, at most
//! [`workers`] at once, so however heavy the calls, the runtime's threads
//! stay free to serve every other request (`/healthz` included), and the
//! request timeout can answer while the work is still running. The work
//! gets the call's deadline and stops at its next step once it has passed.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::{ApiError, ErrorCode};
use crate::authz::Deadline;

/// Largest weight (host entities plus their parent links) decided in place.
pub const INLINE_MAX_WEIGHT: usize = 32;
/// Most questions of one call decided in place (a batch's requests).
pub const INLINE_MAX_QUESTIONS: usize = 16;

/// Whether a call of `weight` asking `questions` questions is small enough
/// to decide in place.
pub fn inline(weight: usize, questions: usize) -> bool {
    weight <= INLINE_MAX_WEIGHT && questions <= INLINE_MAX_QUESTIONS
}

/// How many heavy calls are evaluated at once: one per core (at least two).
/// The others wait for a worker, within their own request timeout.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

fn pool() -> &'static Arc<Semaphore> {
    static POOL: OnceLock<Arc<Semaphore>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(Semaphore::new(workers())))
}

/// The deadline of a call that started now, from `request_timeout_ms`.
pub fn deadline(timeout_ms: u64) -> Deadline {
    Deadline::after(Duration::from_millis(timeout_ms))
}

/// Runs `work` on the blocking pool once a worker is free. The worker is
/// held until the work ends, even when the caller stopped waiting (the
/// request timed out), so abandoned work still counts against the bound.
pub async fn run<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let permit =
        pool().clone().acquire_owned().await.map_err(|_| {
            ApiError::new(ErrorCode::Unavailable, "the decision workers are stopped")
        })?;
    tokio::task::spawn_blocking(move || {
        let _held = permit;
        work()
    })
    .await
    .map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("a decision worker failed: {e}"),
        )
    })
}
