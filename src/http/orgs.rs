//! Organizations, members and a user's organizations.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Caller, Json, PageParams, Path, Query};
use crate::app::App;
use crate::domain::CreateOrg;
use crate::model::{AuditEvent, Member, Org, Page, Scope, UserOrg};

pub async fn create_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<CreateOrg>,
) -> Result<(StatusCode, Json<Org>), ApiError> {
    let org = app.tenancy.create_org(caller.actor()?, req).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

pub async fn get_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Org>, ApiError> {
    Ok(Json(app.tenancy.get_org(caller.actor()?, org).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    name: String,
}

pub async fn update_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Json(req): Json<UpdateOrg>,
) -> Result<Json<Org>, ApiError> {
    Ok(Json(
        app.tenancy
            .rename_org(caller.actor()?, org, req.name)
            .await?,
    ))
}

pub async fn delete_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.tenancy.delete_org(caller.actor()?, org).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn user_orgs(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(user): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<UserOrg>>, ApiError> {
    let actor = caller.actor()?;
    let privileged = caller.scope == Scope::Admin;
    Ok(Json(
        app.tenancy
            .user_orgs(actor, privileged, user, page.into())
            .await?,
    ))
}

/// `?role=&limit=&cursor=` (no `flatten`: it breaks numbers in query strings).
#[derive(Debug, Deserialize)]
pub struct MemberListParams {
    role: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

pub async fn list_members(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Query(params): Query<MemberListParams>,
) -> Result<Json<Page<Member>>, ApiError> {
    let page = app
        .tenancy
        .list_members(
            caller.actor()?,
            org,
            params.role,
            PageParams {
                limit: params.limit,
                cursor: params.cursor,
            }
            .into(),
        )
        .await?;
    Ok(Json(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    email: String,
    role: String,
}

pub async fn add_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    Json(req): Json<AddMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    let member = app
        .tenancy
        .add_member(caller.actor()?, org, user, req.email, req.role)
        .await?;
    Ok((StatusCode::CREATED, Json(member)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    role: String,
}

pub async fn update_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    Json(req): Json<ChangeRole>,
) -> Result<Json<Member>, ApiError> {
    let member = app
        .tenancy
        .update_member_role(caller.actor()?, org, user, req.role)
        .await?;
    Ok(Json(member))
}

pub async fn remove_member(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app.tenancy
        .remove_member(caller.actor()?, org, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    to: String,
}

pub async fn transfer_ownership(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Json(req): Json<Transfer>,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(
        app.tenancy
            .transfer_ownership(caller.actor()?, org, req.to)
            .await?,
    ))
}

pub async fn audit(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    Ok(Json(
        app.tenancy
            .audit_log(caller.actor()?, org, page.into())
            .await?,
    ))
}
