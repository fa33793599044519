//! `POST /v1/is_authorized` and its batch form.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Caller, Json};
use super::offload;
use crate::app::App;
use crate::authz::{BatchRequest, Decision, DecisionRequest};
use crate::decision_log::Entry;
use crate::model::Scope;

#[utoipa::path(
    post,
    path = "/v1/is_authorized",
    tag = "decisions",
    request_body = crate::authz::DecisionRequest,
    responses((status = 200, description = "the decision (a Deny is an answer, not an error)", body = crate::authz::Decision), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn is_authorized(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<DecisionRequest>,
) -> Result<Json<Decision>, ApiError> {
    caller.require(Scope::Check)?;
    let snapshot = app.snapshot.load_full();
    let deadline = offload::deadline(app.settings.request_timeout_ms);
    let started = Instant::now();
    let (req, decision) = if offload::inline(crate::authz::weight(req.entities.as_ref()), 1) {
        let decision = app.authz.decide_until(&snapshot, &req, deadline);
        (req, decision)
    } else {
        let authz = app.authz.clone();
        offload::run(move || {
            let decision = authz.decide_until(&snapshot, &req, deadline);
            (req, decision)
        })
        .await?
    };
    let decision = decision?;
    observe(&app, &req, &decision, started.elapsed());
    Ok(Json(decision))
}

/// Counts one answered decision and offers it to the decision log.
pub(super) fn observe(app: &App, req: &DecisionRequest, decision: &Decision, elapsed: Duration) {
    crate::metrics::decision(
        decision.decision,
        app.authz.action_label(&req.action),
        elapsed,
    );
    if let Some(log) = app.decision_log.as_ref().filter(|l| l.wants_one()) {
        let entities = req
            .entities
            .as_ref()
            .and_then(|e| e.as_array())
            .map_or(0, Vec::len);
        log.record(Entry::new(
            &req.principal,
            &req.action,
            &req.resource,
            req.context.as_ref(),
            entities,
            decision,
            elapsed,
        ));
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    results: Vec<Decision>,
}

#[utoipa::path(
    post,
    path = "/v1/is_authorized/batch",
    tag = "decisions",
    request_body = crate::authz::BatchRequest,
    responses((status = 200, description = "one decision per request, in order", body = BatchResponse), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn is_authorized_batch(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    caller.require(Scope::Check)?;
    let snapshot = app.snapshot.load_full();
    let deadline = offload::deadline(app.settings.request_timeout_ms);
    let started = Instant::now();
    let weight = crate::authz::weight(req.entities.as_ref());
    let (req, results) = if offload::inline(weight, req.requests.len()) {
        let results = app.authz.decide_batch_until(&snapshot, &req, deadline);
        (req, results)
    } else {
        let authz = app.authz.clone();
        offload::run(move || {
            let results = authz.decide_batch_until(&snapshot, &req, deadline);
            (req, results)
        })
        .await?
    };
    let results = results?;
    // The items share parsing and entities: each gets an equal share of the time.
    let share = started
        .elapsed()
        .checked_div(u32::try_from(results.len()).unwrap_or(u32::MAX))
        .unwrap_or_default();
    let entities = req
        .entities
        .as_ref()
        .and_then(|e| e.as_array())
        .map_or(0, Vec::len);
    for (item, decision) in req.requests.iter().zip(&results) {
        crate::metrics::decision(
            decision.decision,
            app.authz.action_label(&item.action),
            share,
        );
        if let Some(log) = app.decision_log.as_ref().filter(|l| l.wants_one()) {
            log.record(Entry::new(
                &item.principal,
                &item.action,
                &item.resource,
                item.context.as_ref(),
                entities,
                decision,
                share,
            ));
        }
    }
    Ok(Json(BatchResponse { results }))
}
