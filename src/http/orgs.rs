//! Organizations, members and a user's organizations.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Caller, Json, PageParams, Path, Query};
use super::openapi::ActorHeader;
use crate::app::App;
use crate::domain::CreateOrg;
use crate::model::{AuditEvent, Member, Org, Page, UserOrg};

#[utoipa::path(
    post,
    path = "/v1/orgs",
    tag = "organizations",
    params(ActorHeader),
    request_body = crate::domain::CreateOrg,
    responses(
        (status = 201, description = "the organization, with its first owner (the actor, or for a system call `owner.id`)", body = crate::model::Org),
        (status = 403, description = "`forbidden`: `owner.id` names someone other than the actor; only that user themself, or a system call, makes them owner of a new organization", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "`already_exists`: the id is taken, or belonged to a deleted organization (ids are never reused, by anyone)", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        super::openapi::Problems
    ),
    security(("api_key" = []), ())
)]
pub async fn create_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(req): Json<CreateOrg>,
) -> Result<(StatusCode, Json<Org>), ApiError> {
    let org = app.tenancy.create_org(caller.actor()?, req).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    responses((status = 200, description = "the organization (`org.read`)", body = crate::model::Org), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn get_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<Json<Org>, ApiError> {
    Ok(Json(app.tenancy.get_org(caller.actor()?, org).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    name: String,
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    request_body = UpdateOrg,
    responses((status = 200, description = "renamed (`org.update`)", body = crate::model::Org), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    responses((status = 204, description = "deleted with its workspaces, memberships and invites (`org.delete`); the audit log stays, for system calls only; the org id and its workspace ids are retired and never name anything again"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn delete_org(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.tenancy.delete_org(caller.actor()?, org).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/users/{user}/orgs",
    tag = "organizations",
    params(("user" = String, Path, description = "user id"), ActorHeader, PageParams),
    responses((status = 200, description = "the organizations of the user: only the user themself (`X-Actor-Id` equal to `user`) or a system call (admin key, no actor) may ask; another actor gets 403 `forbidden` whatever the key's scope", body = crate::model::Page<crate::model::UserOrg>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn user_orgs(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(user): Path<String>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<UserOrg>>, ApiError> {
    let actor = caller.actor()?;
    Ok(Json(app.tenancy.user_orgs(actor, user, page.into()).await?))
}

/// `?role=&limit=&cursor=` (no `flatten`: it breaks numbers in query strings).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    role: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/members",
    tag = "members",
    params(("org" = String, Path, description = "organization id"), ActorHeader, MemberListParams),
    responses((status = 200, description = "members, by user id (`member.list`)", body = crate::model::Page<crate::model::Member>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    email: String,
    role: String,
}

#[utoipa::path(
    put,
    path = "/v1/orgs/{org}/members/{user}",
    tag = "members",
    params(("org" = String, Path, description = "organization id"), ("user" = String, Path, description = "user id"), ActorHeader),
    request_body = AddMember,
    responses((status = 201, description = "added without an invite (`member.add`); `email` is the address this organization knows the member by, whatever other organizations were given", body = crate::model::Member), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

/// `{"role"}`: a member's or a pending invite's new role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub(super) role: String,
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/members/{user}",
    tag = "members",
    params(("org" = String, Path, description = "organization id"), ("user" = String, Path, description = "user id"), ActorHeader),
    request_body = ChangeRole,
    responses((status = 200, description = "role changed (`member.update_role`)", body = crate::model::Member), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/members/{user}",
    tag = "members",
    params(("org" = String, Path, description = "organization id"), ("user" = String, Path, description = "user id"), ActorHeader),
    responses((status = 204, description = "removed (`member.remove`), or left (`member.leave`) when the actor is the user"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    to: String,
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/ownership",
    tag = "members",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    request_body = Transfer,
    responses((status = 200, description = "the new owner; the acting owner became an admin (`org.transfer_ownership`)", body = crate::model::Member), super::openapi::Problems),
    security(("api_key" = []), ())
)]
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

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/audit",
    tag = "audit",
    params(("org" = String, Path, description = "organization id"), ActorHeader, PageParams),
    responses(
        (status = 200, description = "audit events, newest first (`audit.read`); a deleted organization's events only to a system call", body = crate::model::Page<crate::model::AuditEvent>),
        (status = 404, description = "`not_found`: no such organization; also, with an actor, a deleted one", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        super::openapi::Problems
    ),
    security(("api_key" = []), ())
)]
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
