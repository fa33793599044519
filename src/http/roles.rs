//! Custom roles of an organization, and the permissions they may hold.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::error::ApiError;
use super::extract::{Caller, Json, Path};
use super::openapi::ActorHeader;
use crate::app::App;
use crate::authz::Grantable;
use crate::domain::{NewRole, RolePatch, RoleView};
use crate::model::{Page, Scope};

/// The answer of `GET /v1/permissions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionCatalog {
    /// Every permission a custom role may hold, by action.
    pub items: Vec<Grantable>,
}

#[utoipa::path(
    get,
    path = "/v1/permissions",
    tag = "roles",
    responses((status = 200, description = "the grantable permissions: the actions the schema marks `@grantable`, with what each allows", body = PermissionCatalog), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn permissions(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<PermissionCatalog>, ApiError> {
    caller.require(Scope::Manage)?;
    Ok(Json(PermissionCatalog {
        items: app.authz.grantable(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/roles",
    tag = "roles",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    responses((status = 200, description = "the built-in roles (read-only, with the permissions the policies give them), then the custom roles by key; one page (`org.read`)", body = crate::model::Page<RoleView>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Page<RoleView>>, ApiError> {
    Ok(Json(app.tenancy.list_roles(caller.actor()?, org).await?))
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/roles",
    tag = "roles",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    request_body = NewRole,
    responses((status = 201, description = "created (`role.manage`; the actor must hold every permission of the role)", body = RoleView), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Json(req): Json<NewRole>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let role = app.tenancy.create_role(caller.actor()?, org, req).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/roles/{role}",
    tag = "roles",
    params(("org" = String, Path, description = "organization id"), ("role" = String, Path, description = "role key"), ActorHeader),
    responses((status = 200, description = "the role (`org.read`)", body = RoleView), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, role)): Path<(String, String)>,
) -> Result<Json<RoleView>, ApiError> {
    Ok(Json(
        app.tenancy.get_role(caller.actor()?, org, role).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/roles/{role}",
    tag = "roles",
    params(("org" = String, Path, description = "organization id"), ("role" = String, Path, description = "role key"), ActorHeader),
    request_body = RolePatch,
    responses((status = 200, description = "changed; holders keep the role (`role.manage`; the actor must hold every permission of the result; built-in roles: 409 `read_only_role`)", body = RoleView), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn update(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, role)): Path<(String, String)>,
    Json(patch): Json<RolePatch>,
) -> Result<Json<RoleView>, ApiError> {
    Ok(Json(
        app.tenancy
            .update_role(caller.actor()?, org, role, patch)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/roles/{role}",
    tag = "roles",
    params(("org" = String, Path, description = "organization id"), ("role" = String, Path, description = "role key"), ActorHeader),
    responses((status = 204, description = "deleted (`role.manage`); 409 `role_in_use` while members or pending invites hold it, 409 `read_only_role` for built-in roles"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, role)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.tenancy.delete_role(caller.actor()?, org, role).await?;
    Ok(StatusCode::NO_CONTENT)
}
