//! A fixed-window counter of failed attempts per caller, for guessing
//! attacks on invite tokens: once a caller has failed `limit` times in the
//! current window, its attempts are refused until the window ends, whether
//! they would have succeeded or not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most callers tracked at once; beyond that the oldest windows are
/// forgotten, so the table itself cannot be grown without bound.
const MAX_CALLERS: usize = 10_000;

#[derive(Debug)]
pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl FailureLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `caller` has used up its failures.
    pub fn blocked(&self, caller: &str) -> Option<u64> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, count) = counts.get(caller)?;
        let elapsed = start.elapsed();
        (elapsed < self.window && *count >= self.limit)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Counts one failed attempt of `caller`.
    pub fn failed(&self, caller: &str) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if counts.len() >= MAX_CALLERS && !counts.contains_key(caller) {
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if counts.len() >= MAX_CALLERS {
                counts.clear();
            }
        }
        let entry = counts.entry(caller.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::from_millis(200));
        for _ in 0..3 {
            assert_eq!(limiter.blocked("k1"), None);
            limiter.failed("k1");
        }
        assert!(limiter.blocked("k1").is_some());
        assert_eq!(limiter.blocked("k2"), None, "callers are counted apart");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limiter.blocked("k1"), None);
        limiter.failed("k1");
        assert_eq!(limiter.blocked("k1"), None, "a new window starts at zero");
    }
}
