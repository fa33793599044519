//! Prometheus metrics: one recorder per process, installed once as the
//! global `metrics` recorder and rendered by `GET /metrics` (no listener of
//! its own). Every metric name and label set lives here, so the call sites
//! stay one line and the label values stay bounded.
//!
//! Tests build many apps in one process: they all share this recorder, so
//! counters add up across them.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::authz::Outcome;

pub const DECISIONS_TOTAL: &str = "tenantgate_decisions_total";
pub const DECISION_DURATION: &str = "tenantgate_decision_duration_seconds";
pub const HTTP_REQUESTS_TOTAL: &str = "tenantgate_http_requests_total";
pub const OVERLOAD_TOTAL: &str = "tenantgate_overload_rejections_total";
pub const HTTP_REQUEST_DURATION: &str = "tenantgate_http_request_duration_seconds";
pub const POLICY_RELOADS_TOTAL: &str = "tenantgate_policy_reloads_total";
pub const MAIL_DELIVERY_TOTAL: &str = "tenantgate_mail_delivery_total";
pub const FORWARD_AUTH_TOTAL: &str = "tenantgate_forward_auth_total";

/// Upper bounds of the decision-time buckets: 5 µs to 10 ms.
const DECISION_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01,
];

/// Upper bounds of the HTTP request-time buckets: 100 µs to 10 s.
const HTTP_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder handle; the first call builds the recorder and
/// installs it as the global one.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(install)
}

/// Installs the recorder (idempotent); call before anything is recorded,
/// since the `metrics` macros drop values while no recorder is installed.
pub fn init() {
    handle();
}

/// The recorded metrics in Prometheus text format.
pub fn render() -> String {
    handle().render()
}

/// Drains histogram samples every `interval` so memory stays bounded
/// between scrapes; runs until the task is aborted.
pub fn spawn_upkeep(interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        loop {
            ticker.tick().await;
            handle().run_upkeep();
        }
    })
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(DECISION_DURATION.into()), DECISION_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), HTTP_BUCKETS)
        })
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metric buckets rejected; histograms render as summaries");
            PrometheusBuilder::new()
        });
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if let Err(e) = ::metrics::set_global_recorder(recorder) {
        // Someone else (an embedding program) installed one first: our
        // handle then renders only what is recorded through it, i.e. nothing.
        tracing::warn!(error = %e, "a global metrics recorder was already installed");
    }
    describe();
    handle
}

fn describe() {
    use ::metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        OVERLOAD_TOTAL,
        "Connections and requests answered 503 because a limit was reached, by limit"
    );
    describe_counter!(
        DECISIONS_TOTAL,
        "Decisions answered over HTTP, by outcome and action."
    );
    describe_histogram!(
        DECISION_DURATION,
        Unit::Seconds,
        "Time to decide one request (a batch's time is shared among its items)."
    );
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method."
    );
    describe_counter!(
        POLICY_RELOADS_TOTAL,
        "Policy reloads that swapped in a new set or ended a failure (ok), or were rejected."
    );
    describe_counter!(
        FORWARD_AUTH_TOTAL,
        "Forward-auth answers: allow, deny (by policy), no_principal, no_route, invalid (unusable forwarded request)."
    );
    describe_counter!(
        MAIL_DELIVERY_TOTAL,
        "Invite email delivery attempts: sent, failed for good, or to retry."
    );
}

/// One decision of the HTTP API. `action` is the action's id when the
/// schema declares it; anything else is labelled `other`.
pub fn decision(outcome: Outcome, action: Option<String>, elapsed: Duration) {
    let decision = match outcome {
        Outcome::Allow => "Allow",
        Outcome::Deny => "Deny",
    };
    let action = action.unwrap_or_else(|| "other".to_owned());
    ::metrics::counter!(DECISIONS_TOTAL, "decision" => decision, "action" => action).increment(1);
    ::metrics::histogram!(DECISION_DURATION).record(elapsed.as_secs_f64());
}

/// One answered HTTP request. `route` is the matched route template (never
/// the raw path), `None` for paths no route matches.
pub fn http_request(route: Option<String>, method: &'static str, status: u16, elapsed: Duration) {
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    ::metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string()
    )
    .increment(1);
    ::metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route, "method" => method)
        .record(elapsed.as_secs_f64());
}

/// Outcome of a policy reload that is news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    Ok,
    Rejected,
}

/// A connection over `max_connections`, answered 503 and closed.
pub fn connection_refused() {
    ::metrics::counter!(OVERLOAD_TOTAL, "limit" => "connections").increment(1);
}

/// A request over `max_in_flight`, answered 503 at once.
pub fn request_shed() {
    ::metrics::counter!(OVERLOAD_TOTAL, "limit" => "in_flight").increment(1);
}

pub fn policy_reload(outcome: Reload) {
    let outcome = match outcome {
        Reload::Ok => "ok",
        Reload::Rejected => "rejected",
    };
    ::metrics::counter!(POLICY_RELOADS_TOTAL, "outcome" => outcome).increment(1);
}

/// How a forward-auth request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    Allow,
    Deny,
    NoPrincipal,
    NoRoute,
    Invalid,
}

pub fn forward_auth(outcome: Forward) {
    let outcome = match outcome {
        Forward::Allow => "allow",
        Forward::Deny => "deny",
        Forward::NoPrincipal => "no_principal",
        Forward::NoRoute => "no_route",
        Forward::Invalid => "invalid",
    };
    ::metrics::counter!(FORWARD_AUTH_TOTAL, "outcome" => outcome).increment(1);
}

/// Outcome of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Failed and given up.
    Failed,
    /// Failed, tried again later.
    Retry,
}

pub fn mail_delivery(outcome: Delivery) {
    let outcome = match outcome {
        Delivery::Sent => "sent",
        Delivery::Failed => "failed",
        Delivery::Retry => "retry",
    };
    ::metrics::counter!(MAIL_DELIVERY_TOTAL, "outcome" => outcome).increment(1);
}
