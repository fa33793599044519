//! The notes app: organizations with workspaces holding notes. tenantgate
//! keeps the teams (orgs, invites, roles) and decides every request; this
//! app keeps only the notes. Users are named by the `X-User-Id` and
//! `X-User-Email` headers, standing in for the app's own sign-in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{self, TenantGate, User};

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign in first: send `X-User-Id` and `X-User-Email`")]
    SignedOut,
    #[error("you may not `{0}` this note")]
    Denied(&'static str),
    #[error("no such note")]
    NotFound,
    #[error(transparent)]
    Gate(#[from] client::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::SignedOut => StatusCode::UNAUTHORIZED,
            Self::Denied(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            // The sidecar's refusals (403 forbidden, 409 already_member, …)
            // mean the same to this app's callers.
            Self::Gate(client::Error::Api { status, .. }) => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            Self::Gate(client::Error::Transport(_)) => StatusCode::BAD_GATEWAY,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// Response header naming the policies that allowed a note call.
const ALLOWED_BY: &str = "x-allowed-by";

type NoteKey = (String, String, String);

#[derive(Debug)]
struct Notes {
    gate: TenantGate,
    notes: Mutex<HashMap<NoteKey, String>>,
}

type AppState = State<Arc<Notes>>;

/// The whole app, ready to serve.
pub fn router(gate: TenantGate) -> Router {
    let notes = Arc::new(Notes {
        gate,
        notes: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/orgs", post(create_org))
        .route("/orgs/{org}/workspaces", post(create_workspace))
        .route("/orgs/{org}/invites", post(invite))
        .route("/invites/accept", post(accept))
        .route("/orgs/{org}/members/{user}", patch(change_role))
        .route(
            "/orgs/{org}/workspaces/{ws}/notes/{note}",
            put(write_note).get(read_note),
        )
        .with_state(notes)
}

/// The signed-in user.
fn user(headers: &HeaderMap) -> Result<User, AppError> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    match (get("x-user-id"), get("x-user-email")) {
        (Some(id), Some(email)) => Ok(User { id, email }),
        _ => Err(AppError::SignedOut),
    }
}

#[derive(Debug, Deserialize)]
struct Named {
    id: String,
    name: String,
}

async fn create_org(
    State(app): AppState,
    headers: HeaderMap,
    Json(body): Json<Named>,
) -> Result<(StatusCode, Json<client::Org>), AppError> {
    let me = user(&headers)?;
    let org = app.gate.create_org(&body.id, &body.name, &me).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

async fn create_workspace(
    State(app): AppState,
    headers: HeaderMap,
    Path(org): Path<String>,
    Json(body): Json<Named>,
) -> Result<(StatusCode, Json<client::Workspace>), AppError> {
    let me = user(&headers)?;
    let ws = app
        .gate
        .create_workspace(&me.id, &org, &body.id, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(ws)))
}

#[derive(Debug, Deserialize)]
struct InviteBody {
    email: String,
    role: String,
}

/// Answers the token so this demo needs no mail; a real app emails the
/// accept link instead.
async fn invite(
    State(app): AppState,
    headers: HeaderMap,
    Path(org): Path<String>,
    Json(body): Json<InviteBody>,
) -> Result<(StatusCode, Json<client::Invite>), AppError> {
    let me = user(&headers)?;
    let invite = app
        .gate
        .invite(&me.id, &org, &body.email, &body.role)
        .await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

#[derive(Debug, Deserialize)]
struct AcceptBody {
    token: String,
}

async fn accept(
    State(app): AppState,
    headers: HeaderMap,
    Json(body): Json<AcceptBody>,
) -> Result<Json<client::Membership>, AppError> {
    let me = user(&headers)?;
    Ok(Json(app.gate.accept(&body.token, &me).await?))
}

#[derive(Debug, Deserialize)]
struct RoleBody {
    role: String,
}

async fn change_role(
    State(app): AppState,
    headers: HeaderMap,
    Path((org, member)): Path<(String, String)>,
    Json(body): Json<RoleBody>,
) -> Result<Json<client::Member>, AppError> {
    let me = user(&headers)?;
    let changed = app
        .gate
        .change_role(&me.id, &org, &member, &body.role)
        .await?;
    Ok(Json(changed))
}

/// Asks the sidecar whether `me` may `action` the note: the note is a
/// `Document` in its workspace, which the sidecar knows to be in the org.
/// Answers the ids of the policies that allowed it.
async fn check(
    app: &Notes,
    me: &User,
    action: &'static str,
    ws: &str,
    note: &str,
) -> Result<String, AppError> {
    let doc = json!({"type": "Document", "id": note});
    let workspace = json!({"type": "Workspace", "id": ws});
    let entity: Value =
        json!({"uid": doc, "attrs": {"workspace": workspace}, "parents": [workspace]});
    let decision = app
        .gate
        .is_authorized(&me.id, action, doc, vec![entity])
        .await?;
    if decision.allowed() {
        Ok(decision.reasons.join(","))
    } else {
        Err(AppError::Denied(action))
    }
}

async fn write_note(
    State(app): AppState,
    headers: HeaderMap,
    Path((org, ws, note)): Path<(String, String, String)>,
    text: String,
) -> Result<(StatusCode, [(&'static str, String); 1]), AppError> {
    let me = user(&headers)?;
    let reasons = check(&app, &me, "document.edit", &ws, &note).await?;
    app.notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert((org, ws, note), text);
    Ok((StatusCode::NO_CONTENT, [(ALLOWED_BY, reasons)]))
}

async fn read_note(
    State(app): AppState,
    headers: HeaderMap,
    Path((org, ws, note)): Path<(String, String, String)>,
) -> Result<([(&'static str, String); 1], String), AppError> {
    let me = user(&headers)?;
    let reasons = check(&app, &me, "document.read", &ws, &note).await?;
    let text = app
        .notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(org, ws, note))
        .cloned()
        .ok_or(AppError::NotFound)?;
    Ok(([(ALLOWED_BY, reasons)], text))
}
