//! Workspaces and their members.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Caller, Json, PageParams, Path, Query};
use crate::app::App;
use crate::model::{Page, Workspace, WorkspaceMember};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    #[serde(default)]
    id: Option<String>,
    name: String,
}

pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Json(req): Json<CreateWorkspace>,
) -> Result<(StatusCode, Json<Workspace>), ApiError> {
    let ws = app
        .tenancy
        .create_workspace(caller.actor()?, org, req.id, req.name)
        .await?;
    Ok((StatusCode::CREATED, Json(ws)))
}

pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Workspace>>, ApiError> {
    Ok(Json(
        app.tenancy
            .list_workspaces(caller.actor()?, org, page.into())
            .await?,
    ))
}

pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws)): Path<(String, String)>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(
        app.tenancy.get_workspace(caller.actor()?, org, ws).await?,
    ))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.tenancy
        .delete_workspace(caller.actor()?, org, ws)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_members(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws)): Path<(String, String)>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<WorkspaceMember>>, ApiError> {
    let page = app
        .tenancy
        .list_workspace_members(caller.actor()?, org, ws, page.into())
        .await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMember {
    role: String,
}

pub async fn set_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws, user)): Path<(String, String, String)>,
    Json(req): Json<SetMember>,
) -> Result<Json<WorkspaceMember>, ApiError> {
    let member = app
        .tenancy
        .set_workspace_member(caller.actor()?, org, ws, user, req.role)
        .await?;
    Ok(Json(member))
}

pub async fn remove_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws, user)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    app.tenancy
        .remove_workspace_member(caller.actor()?, org, ws, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
