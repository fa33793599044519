//! Extractors whose rejections are the API's own problem+json errors, and
//! the caller (API key scope and actor) of each call.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode};
use crate::app::App;
use crate::domain::{Actor, Paging};
use crate::model::{self, Scope};

/// JSON body in, JSON out; malformed, oversized or unknown-field bodies are
/// rejected with the API's codes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the request body is larger than allowed",
                )
            } else {
                ApiError::invalid(rejection.body_text())
            }
        })?;
        super::unique_keys::check(&bytes).map_err(|e| {
            ApiError::invalid(format!("Failed to parse the request body as JSON: {e}"))
        })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or any `application/*+json`, as axum's own check.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(mime) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = mime.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "expected `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(e) => ApiError::invalid(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::invalid(e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than allowed",
        ),
        other => ApiError::invalid(other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters, rejected as `invalid_request`.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Every path parameter of the API is an id: one syntax check for all.
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        if let Some((name, value)) = raw.iter().find(|(_, v)| !model::is_valid_id(v)) {
            return Err(ApiError::invalid(format!(
                "`{name}` `{}` is not a valid id (1-128 characters of A-Z a-z 0-9 . _ : @ -)",
                value.escape_debug()
            )));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|e: PathRejection| ApiError::invalid(e.body_text()))
    }
}

/// Query parameters, rejected as `invalid_request`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e: QueryRejection| ApiError::invalid(e.body_text()))
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<PageParams> for Paging {
    fn from(p: PageParams) -> Self {
        Paging {
            limit: p.limit,
            cursor: p.cursor,
        }
    }
}

/// Header naming the end user a management call acts for.
pub const ACTOR_HEADER: &str = "x-actor-id";

/// Who is calling: the key's scope and the actor header.
#[derive(Debug, Clone)]
pub struct Caller {
    pub scope: Scope,
    pub actor: Option<String>,
    /// The API key's id (`keyless` in development mode), for per-caller limits.
    pub key: String,
    /// The end user's address: the `X-Forwarded-For` entry
    /// `trusted_proxy_hops` places from the right (none when that setting
    /// is 0), so limits can apply per end user.
    pub client: Option<String>,
}

/// Longest forwarded client address kept.
const MAX_CLIENT_LEN: usize = 64;

/// The entry `hops` places from the right of every `X-Forwarded-For`
/// line joined in order: each trusted proxy appends the address it saw,
/// so that entry was written by the outermost trusted proxy, and whatever
/// the client itself wrote lies further left and is never read. Too few
/// entries (the request bypassed a proxy) or `hops` 0: none.
fn forwarded_client(headers: &axum::http::HeaderMap, hops: u32) -> Option<String> {
    if hops == 0 {
        return None;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries.len().checked_sub(usize::try_from(hops).ok()?)?;
    entries
        .get(index)
        .filter(|v| !v.is_empty() && v.len() <= MAX_CLIENT_LEN)
        .map(|v| (*v).to_owned())
}

impl Caller {
    /// Who a per-caller limit counts: the key, and the end user behind it
    /// when the host says who that is.
    pub fn limit_key(&self) -> String {
        match &self.client {
            Some(client) => format!("{}|{client}", self.key),
            None => self.key.clone(),
        }
    }
}

impl Caller {
    /// Fails unless the key has at least `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::InsufficientScope,
                format!(
                    "this call needs the `{}` scope; the key has `{}`",
                    needed.as_str(),
                    self.scope.as_str()
                ),
            ))
        }
    }

    /// The actor of a management call: the `X-Actor-Id` user, or the system
    /// for an admin key without one.
    pub fn actor(&self) -> Result<Actor, ApiError> {
        self.require(Scope::Manage)?;
        match (&self.actor, self.scope) {
            (Some(user), _) => Ok(Actor::User(user.clone())),
            (None, Scope::Admin) => Ok(Actor::System),
            (None, _) => Err(ApiError::new(
                ErrorCode::ActorRequired,
                "management calls with a `manage` key must name the acting user in `X-Actor-Id`",
            )),
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let actor = match parts.headers.get(ACTOR_HEADER) {
            None => None,
            Some(value) => {
                let id = value
                    .to_str()
                    .ok()
                    .filter(|id| model::is_valid_id(id))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "`X-Actor-Id` must be 1-128 characters of A-Z a-z 0-9 . _ : @ -",
                        )
                    })?;
                if model::is_reserved_user_id(id) {
                    return Err(ApiError::invalid(format!(
                        "`X-Actor-Id` `{id}` is reserved: `{}` names system calls (an admin key without `X-Actor-Id`) and is never a user id",
                        model::SYSTEM_ACTOR
                    )));
                }
                Some(id.to_owned())
            }
        };
        let (key, scope) = key_scope(parts, app)?;
        Ok(Self {
            scope,
            actor,
            key,
            client: forwarded_client(&parts.headers, app.settings.trusted_proxy_hops),
        })
    }
}

/// The caller of a call that never acts for a user (forward auth): only
/// the key counts, so an `X-Actor-Id` the proxy passes through from the
/// client cannot fail the call.
#[derive(Debug, Clone)]
pub struct KeyOnly(pub Caller);

impl FromRequestParts<Arc<App>> for KeyOnly {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let (key, scope) = key_scope(parts, app)?;
        Ok(Self(Caller {
            scope,
            actor: None,
            key,
            client: forwarded_client(&parts.headers, app.settings.trusted_proxy_hops),
        }))
    }
}

/// The key of `Authorization: Bearer <key>`, or the password of
/// `Authorization: Basic` (what an HTTP client sends for a URL with
/// user-info, the only way some proxies can authenticate their
/// forward-auth calls).
fn presented_key(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text.split_once(':').map(|(_, key)| key.to_owned());
    }
    None
}

/// The id and scope of the presented key (`keyless` and `admin` in
/// development mode).
fn key_scope(parts: &Parts, app: &App) -> Result<(String, Scope), ApiError> {
    if app.keyless_mode() {
        return Ok(("keyless".to_owned(), Scope::Admin));
    }
    let Some(secret) = presented_key(parts) else {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "send an API key as `Authorization: Bearer <key>`",
        ));
    };
    match app.keys.lookup(&secret) {
        Some(found) => Ok(found),
        None => Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "unknown or revoked API key",
        )),
    }
}
