//! Invitations: management on behalf of an actor, and the invitee's side,
//! where the token is the capability.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::{ApiError, ErrorCode};
use super::extract::{Caller, Json, PageParams, Path, Query};
use super::openapi::ActorHeader;
use super::orgs::ChangeRole;
use crate::app::App;
use crate::domain::{Accepted, CreateInvites, CreatedInvites, Invitee};
use crate::model::{Invite, InviteLookup, IssuedInvite, Page, Scope};

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/invites",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ActorHeader),
    request_body = crate::domain::CreateInvites,
    responses((status = 201, description = "created, all or nothing (`member.invite`); the only answer with tokens besides resend", body = crate::domain::CreatedInvites), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Json(req): Json<CreateInvites>,
) -> Result<(StatusCode, Json<CreatedInvites>), ApiError> {
    let created = app
        .tenancy
        .create_invites(caller.actor()?, org, req)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `?status=&email=&limit=&cursor=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    status: Option<String>,
    email: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/invites",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ActorHeader, ListParams),
    responses((status = 200, description = "invites, newest first (`invite.list`)", body = crate::model::Page<crate::model::Invite>), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(org): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<Page<Invite>>, ApiError> {
    let paging = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    let page = app
        .tenancy
        .list_invites(caller.actor()?, org, p.status, p.email, paging.into())
        .await?;
    Ok(Json(page))
}

#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/invites/{id}",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ("id" = String, Path, description = "invite id"), ActorHeader),
    responses((status = 200, description = "the invite (`invite.list`)", body = crate::model::Invite), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Invite>, ApiError> {
    Ok(Json(
        app.tenancy.get_invite(caller.actor()?, org, id).await?,
    ))
}

#[utoipa::path(
    patch,
    path = "/v1/orgs/{org}/invites/{id}",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ("id" = String, Path, description = "invite id"), ActorHeader),
    request_body = ChangeRole,
    responses((status = 200, description = "role changed, pending invites only (`invite.update`)", body = crate::model::Invite), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn update(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    Json(req): Json<ChangeRole>,
) -> Result<Json<Invite>, ApiError> {
    let invite = app
        .tenancy
        .update_invite_role(caller.actor()?, org, id, req.role)
        .await?;
    Ok(Json(invite))
}

/// `?send_email=false` rotates the token without sending mail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResendParams {
    /// Queue the email again (default true).
    send_email: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/invites/{id}/resend",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ("id" = String, Path, description = "invite id"), ActorHeader, ResendParams),
    responses((status = 200, description = "token rotated, expiry restarted, email queued (`invite.resend`, context `role`: the invite's; needs the rights that granting that role needs)", body = crate::model::IssuedInvite), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn resend(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    Query(p): Query<ResendParams>,
) -> Result<Json<IssuedInvite>, ApiError> {
    let send_email = p.send_email.unwrap_or(true);
    Ok(Json(
        app.tenancy
            .resend_invite(caller.actor()?, org, id, send_email)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/orgs/{org}/invites/{id}",
    tag = "invites",
    params(("org" = String, Path, description = "organization id"), ("id" = String, Path, description = "invite id"), ActorHeader),
    responses((status = 200, description = "revoked, pending invites only (`invite.revoke`, context `role`: the invite's; needs the rights that granting that role needs)", body = crate::model::Invite), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn revoke(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Invite>, ApiError> {
    Ok(Json(
        app.tenancy.revoke_invite(caller.actor()?, org, id).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    token: String,
}

#[utoipa::path(
    post,
    path = "/v1/invites/lookup",
    tag = "invitee",
    request_body = TokenBody,
    responses((status = 200, description = "what an accept page shows", body = crate::model::InviteLookup), super::openapi::Problems),
    security(("api_key" = []), ())
)]
/// The invitee's calls are made by the host's accept page with its key;
/// they act for no actor (the token is the capability), so `manage` suffices.
pub async fn lookup(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> Result<Json<InviteLookup>, ApiError> {
    caller.require(Scope::Manage)?;
    token_guard(&app, &caller)?;
    let result = app.tenancy.lookup_invite(body.token).await;
    Ok(Json(count_failure(&app, &caller, result)?))
}

/// Refuses a caller that has used up its failed token attempts, so invite
/// tokens cannot be guessed at speed through the sidecar.
fn token_guard(app: &App, caller: &Caller) -> Result<(), ApiError> {
    match app.token_failures.blocked(&caller.limit_key()) {
        Some(wait) => Err(ApiError::new(
            ErrorCode::RateLimited,
            format!("too many failed invite token attempts with this key; retry in {wait} s"),
        )),
        None => Ok(()),
    }
}

/// Counts an unusable token, or the wrong email for one, against the caller.
fn count_failure<T>(
    app: &App,
    caller: &Caller,
    result: Result<T, crate::domain::DomainError>,
) -> Result<T, ApiError> {
    result.map_err(|e| {
        let err = ApiError::from(e);
        if matches!(
            err.code,
            ErrorCode::InviteNotFound | ErrorCode::InviteEmailMismatch
        ) {
            app.token_failures.failed(&caller.limit_key());
        }
        err
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    token: String,
    user: Invitee,
}

#[utoipa::path(
    post,
    path = "/v1/invites/accept",
    tag = "invitee",
    description = "Joins the invite's organization with its role. The policies are asked again whether the invite's sender may still invite with this role (403 `forbidden` if not; the invite stays pending). Invites a removed member sent are revoked at the removal.",
    request_body = AcceptBody,
    responses((status = 200, description = "joined the organization", body = crate::domain::Accepted), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn accept(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<AcceptBody>,
) -> Result<Json<Accepted>, ApiError> {
    caller.require(Scope::Manage)?;
    token_guard(&app, &caller)?;
    let result = app.tenancy.accept_invite(body.token, body.user).await;
    Ok(Json(count_failure(&app, &caller, result)?))
}

#[utoipa::path(
    post,
    path = "/v1/invites/decline",
    tag = "invitee",
    request_body = TokenBody,
    responses((status = 204, description = "declined"), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn decline(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Manage)?;
    token_guard(&app, &caller)?;
    let result = app.tenancy.decline_invite(body.token).await;
    count_failure(&app, &caller, result)?;
    Ok(StatusCode::NO_CONTENT)
}
