//! Invitations: management on behalf of an actor, and the invitee's side,
//! where the token is the capability.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Caller, Json, PageParams, Path, Query};
use crate::app::App;
use crate::domain::{Accepted, CreateInvites, CreatedInvites, Invitee};
use crate::model::{Invite, InviteLookup, IssuedInvite, Page, Scope};

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
#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    email: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

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

pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Invite>, ApiError> {
    Ok(Json(
        app.tenancy.get_invite(caller.actor()?, org, id).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    role: String,
}

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

pub async fn resend(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<IssuedInvite>, ApiError> {
    Ok(Json(
        app.tenancy.resend_invite(caller.actor()?, org, id).await?,
    ))
}

pub async fn revoke(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Invite>, ApiError> {
    Ok(Json(
        app.tenancy.revoke_invite(caller.actor()?, org, id).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    token: String,
}

/// The invitee's calls are made by the host's accept page with its key;
/// they act for no actor (the token is the capability), so `manage` suffices.
pub async fn lookup(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> Result<Json<InviteLookup>, ApiError> {
    caller.require(Scope::Manage)?;
    Ok(Json(app.tenancy.lookup_invite(body.token).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    token: String,
    user: Invitee,
}

pub async fn accept(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<AcceptBody>,
) -> Result<Json<Accepted>, ApiError> {
    caller.require(Scope::Manage)?;
    Ok(Json(
        app.tenancy.accept_invite(body.token, body.user).await?,
    ))
}

pub async fn decline(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<TokenBody>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Manage)?;
    app.tenancy.decline_invite(body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
