//! `POST /v1/is_authorized` and its batch form.

use std::sync::Arc;

use axum::extract::State;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Caller, Json};
use crate::app::App;
use crate::authz::{BatchRequest, Decision, DecisionRequest};
use crate::model::Scope;

pub async fn is_authorized(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<DecisionRequest>,
) -> Result<Json<Decision>, ApiError> {
    caller.require(Scope::Check)?;
    let snapshot = app.snapshot.load();
    Ok(Json(app.authz.decide(&snapshot, &req)?))
}

#[derive(Debug, Serialize)]
pub struct BatchResponse {
    results: Vec<Decision>,
}

pub async fn is_authorized_batch(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    caller.require(Scope::Check)?;
    let snapshot = app.snapshot.load();
    let results = app.authz.decide_batch(&snapshot, &req)?;
    Ok(Json(BatchResponse { results }))
}
