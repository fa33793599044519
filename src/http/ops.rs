//! Policy administration, health, readiness and metrics.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode};
use super::extract::{Caller, Json};
use crate::app::App;
use crate::authz::{PolicyInfo, ValidationReport};
use crate::model::Scope;
use crate::store::StoreError;

#[utoipa::path(
    get,
    path = "/v1/policies",
    tag = "policies",
    responses((status = 200, description = "the policy set serving decisions and the last reload", body = crate::authz::PolicyInfo), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn policies(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<PolicyInfo>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(app.authz.info()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    policies: String,
}

#[utoipa::path(
    post,
    path = "/v1/policies/validate",
    tag = "policies",
    request_body = ValidateBody,
    responses((status = 200, description = "problems found against the loaded schema", body = crate::authz::ValidationReport), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn validate(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<ValidateBody>,
) -> Result<Json<ValidationReport>, ApiError> {
    caller.require(Scope::Admin)?;
    let authz = app.authz.clone();
    let report = tokio::task::spawn_blocking(move || authz.validate_text(&body.policies))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(Json(report))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "alive", body = Health), super::openapi::Problems)
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    status: &'static str,
    policy_revision: String,
    data_revision: u64,
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses((status = 200, description = "database open and a policy set loaded", body = Ready), super::openapi::Problems)
)]
/// Ready when the database answers and a policy set is loaded (there is
/// always one once started: the sidecar refuses to start without).
pub async fn readyz(State(app): State<Arc<App>>) -> Result<Json<Ready>, ApiError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || store.read(|db| db.data_revision()))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?
        .map_err(|e: StoreError| ApiError::new(ErrorCode::Unavailable, format!("database: {e}")))?;
    Ok(Json(Ready {
        status: "ready",
        policy_revision: app.authz.revision(),
        // The revision decisions are served from.
        data_revision: app.snapshot.load().revision(),
    }))
}

/// Prometheus text exposition: the recorded counters and histograms, then
/// gauges of this sidecar's state.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    let store = app.store.clone();
    let outbox_depth =
        match tokio::task::spawn_blocking(move || store.read(|db| db.outbox_depth())).await {
            Ok(Ok(depth)) => Some(depth),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: cannot read the mail outbox depth");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the mail outbox depth");
                None
            }
        };
    let snapshot = app.snapshot.load();
    let info = app.authz.info();
    let mut out = crate::metrics::render();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let mut gauge = |name: &str, help: &str, labels: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{labels} {value}"
        );
    };
    gauge(
        "tenantgate_policy_info",
        "The policy set serving decisions, by revision.",
        &format!("{{revision=\"{}\"}}", info.revision),
        1,
    );
    gauge(
        "tenantgate_policy_last_reload_ok",
        "Whether the last policy reload attempt succeeded (1) or was rejected (0).",
        "",
        u64::from(info.last_reload.ok),
    );
    gauge(
        "tenantgate_data_revision",
        "Data revision of the membership snapshot serving decisions.",
        "",
        snapshot.revision(),
    );
    gauge(
        "tenantgate_organizations",
        "Organizations in the snapshot.",
        "",
        snapshot.org_count() as u64,
    );
    gauge(
        "tenantgate_users_with_roles",
        "Users holding at least one role.",
        "",
        snapshot.user_count() as u64,
    );
    if let Some(depth) = outbox_depth {
        gauge(
            "tenantgate_mail_outbox_depth",
            "Invite emails queued for delivery (first attempt or retry).",
            "",
            depth,
        );
    }
    if let Some(log) = &app.decision_log {
        gauge(
            "tenantgate_decision_log_dropped",
            "Decision log entries dropped because the writer fell behind.",
            "",
            log.dropped(),
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}
