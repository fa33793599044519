//! Workspaces and their members.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Caller, Json, PageParams, Path, Query};
use super::openapi::ActorHeader;
use crate::app::App;
use crate::model::{Page, Workspace, WorkspaceMember};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    #[serde(default)]
    id: Option<String>,
    name: String,
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/workspaces",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    request_body = CreateWorkspace,
    responses(
        (status = 201, description = "created (`workspace.create`)", body = crate::model::Workspace),
        (status = 409, description = "`already_exists`: the id is taken (in any organization), or belonged to a deleted workspace (ids are never reused, by anyone)", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        super::openapi::Problems
    ),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/workspaces",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ActorHeader, PageParams),
    responses((status = 200, description = "the workspaces the actor may `workspace.read`", body = crate::model::Page<crate::model::Workspace>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/workspaces/{ws}",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ("ws" = String, Path, description = "workspace id"), ActorHeader),
    responses((status = 200, description = "the workspace (`workspace.read`)", body = crate::model::Workspace), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, ws)): Path<(String, String)>,
) -> Result<Json<Workspace>, ApiError> {
    Ok(Json(
        app.tenancy.get_workspace(caller.actor()?, org, ws).await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/workspaces/{ws}",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ("ws" = String, Path, description = "workspace id"), ActorHeader),
    responses((status = 204, description = "deleted (`workspace.delete`)"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/workspaces/{ws}/members",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ("ws" = String, Path, description = "workspace id"), ActorHeader, PageParams),
    responses((status = 200, description = "workspace members (`workspace.read`)", body = crate::model::Page<crate::model::WorkspaceMember>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMember {
    role: String,
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id"), ActorHeader),
    request_body = SetMember,
    responses((status = 200, description = "role set (`workspace.manage_members`)", body = crate::model::WorkspaceMember), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
    tag = "workspaces",
    params(("org" = String, Path, description = "organization id"), ("ws" = String, Path, description = "workspace id"), ("user" = String, Path, description = "user id"), ActorHeader),
    responses((status = 204, description = "removed (`workspace.manage_members`)"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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
