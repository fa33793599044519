//! The optional decision log: one JSON line per sampled decision (request,
//! decision, reasons, errors, revisions, latency) to a file or stdout.
//! Decisions hand entries to a bounded queue and never wait: when the
//! writer falls behind, entries are dropped and counted instead. Nothing a
//! caller authenticates with reaches it (keys travel in a header that is
//! never logged; the request body holds no secret).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::authz::{Decision, EvalError, Outcome};

/// Where the log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(PathBuf),
}

impl Sink {
    /// `stdout`, or a file path.
    pub fn parse(setting: &str) -> Self {
        match setting {
            "stdout" | "-" => Self::Stdout,
            path => Self::File(PathBuf::from(path)),
        }
    }
}

/// One logged decision.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub at: String,
    pub principal: Value,
    pub action: Value,
    pub resource: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// How many entities the request carried (not the entities themselves).
    pub entities: usize,
    pub decision: Outcome,
    pub reasons: Vec<String>,
    pub errors: Vec<EvalError>,
    pub policy_revision: String,
    pub data_revision: u64,
    pub latency_us: u64,
}

impl Entry {
    pub fn new(
        principal: &Value,
        action: &Value,
        resource: &Value,
        context: Option<&Value>,
        entities: usize,
        decision: &Decision,
        latency: Duration,
    ) -> Self {
        Self {
            at: crate::model::now_rfc3339(),
            principal: principal.clone(),
            action: action.clone(),
            resource: resource.clone(),
            context: context.filter(|c| !c.is_null()).cloned(),
            entities,
            decision: decision.decision,
            reasons: decision.reasons.clone(),
            errors: decision.errors.clone(),
            policy_revision: decision.policy_revision.clone(),
            data_revision: decision.data_revision,
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        }
    }
}

/// The sending side, held by the HTTP layer.
#[derive(Debug)]
pub struct DecisionLog {
    tx: mpsc::Sender<Entry>,
    rx: std::sync::Mutex<Option<mpsc::Receiver<Entry>>>,
    sink: Sink,
    sample: f64,
    dropped: Arc<AtomicU64>,
}

impl DecisionLog {
    /// A log to `sink` keeping a fraction `sample` (0–1) of the decisions,
    /// with room for `capacity` entries waiting to be written.
    pub fn new(sink: Sink, sample: f64, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Self {
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
            sink,
            sample: sample.clamp(0.0, 1.0),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether this decision is to be logged (the sampling draw).
    pub fn wants_one(&self) -> bool {
        self.sample >= 1.0 || (self.sample > 0.0 && rand::random::<f64>() < self.sample)
    }

    /// Queues an entry; never waits. A full queue drops it (counted).
    pub fn record(&self, entry: Entry) {
        if self.tx.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Starts the writer (once); it runs until the task is aborted.
    pub fn spawn_writer(&self) -> Option<tokio::task::JoinHandle<()>> {
        let mut rx = self
            .rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()?;
        let sink = self.sink.clone();
        Some(tokio::spawn(async move {
            let mut out: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match &sink {
                Sink::Stdout => Box::new(tokio::io::stdout()),
                Sink::File(path) => {
                    match tokio::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .await
                    {
                        Ok(f) => Box::new(f),
                        Err(e) => {
                            tracing::error!(path = %path.display(), error = %e, "cannot open the decision log");
                            return;
                        }
                    }
                }
            };
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(first) = rx.recv().await {
                // Write everything waiting in one go.
                let mut next = Some(first);
                while let Some(entry) = next {
                    if serde_json::to_writer(&mut buf, &entry).is_ok() {
                        buf.push(b'\n');
                    }
                    next = rx.try_recv().ok();
                }
                if let Err(e) = out.write_all(&buf).await.and(out.flush().await) {
                    tracing::warn!(error = %e, "decision log write failed");
                }
                buf.clear();
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decision() -> Decision {
        Decision {
            decision: Outcome::Allow,
            reasons: vec!["p".into()],
            errors: vec![],
            policy_revision: "sha256:x".into(),
            data_revision: 1,
        }
    }

    fn entry() -> Entry {
        Entry::new(
            &json!("User::\"a\""),
            &json!("Action::\"x\""),
            &json!("Organization::\"o\""),
            None,
            0,
            &decision(),
            Duration::from_micros(12),
        )
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let log = DecisionLog::new(Sink::Stdout, 1.0, 2);
        for _ in 0..10 {
            log.record(entry());
        }
        assert_eq!(log.dropped(), 8);
    }

    #[test]
    fn sampling_keeps_about_the_asked_fraction() {
        assert!(!DecisionLog::new(Sink::Stdout, 0.0, 1).wants_one());
        assert!(DecisionLog::new(Sink::Stdout, 1.0, 1).wants_one());
        let half = DecisionLog::new(Sink::Stdout, 0.5, 1);
        let kept = (0..2000).filter(|_| half.wants_one()).count();
        assert!((700..1300).contains(&kept), "{kept}");
    }
}
