//! problem+json errors (RFC 9457) with the stable codes of the API contract.
//! One table maps each code to its status and title; 5xx details are logged,
//! never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::authz::RequestError;
use crate::domain::DomainError;

/// The stable error codes. Clients match on these, never on `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthenticated,
    InsufficientScope,
    ActorRequired,
    Forbidden,
    NotFound,
    InvalidRequest,
    ReservedEntityType,
    AlreadyMember,
    NotAMember,
    InviteExists,
    InviteNotFound,
    InviteNotPending,
    InviteEmailMismatch,
    LastOwner,
    RateLimited,
    PayloadTooLarge,
    Unavailable,
    Internal,
    AlreadyExists,
    MethodNotAllowed,
    UnsupportedMediaType,
    PrincipalRequired,
    RoleInUse,
    ReadOnlyRole,
}

impl ErrorCode {
    /// The code table: status and title of every code.
    pub fn describe(self) -> (StatusCode, &'static str) {
        use ErrorCode::*;
        match self {
            Unauthenticated => (StatusCode::UNAUTHORIZED, "missing or unknown API key"),
            InsufficientScope => (
                StatusCode::FORBIDDEN,
                "API key lacks the scope for this call",
            ),
            ActorRequired => (StatusCode::BAD_REQUEST, "X-Actor-Id header required"),
            Forbidden => (StatusCode::FORBIDDEN, "the policies deny this call"),
            NotFound => (StatusCode::NOT_FOUND, "not found"),
            InvalidRequest => (StatusCode::BAD_REQUEST, "invalid request"),
            ReservedEntityType => (
                StatusCode::BAD_REQUEST,
                "entity type reserved to the sidecar",
            ),
            AlreadyMember => (StatusCode::CONFLICT, "already a member"),
            NotAMember => (StatusCode::CONFLICT, "not a member"),
            InviteExists => (StatusCode::CONFLICT, "a pending invite exists"),
            InviteNotFound => (StatusCode::NOT_FOUND, "invite not found"),
            InviteNotPending => (StatusCode::CONFLICT, "invite is not pending"),
            InviteEmailMismatch => (StatusCode::FORBIDDEN, "invite is for another email"),
            LastOwner => (StatusCode::CONFLICT, "an organization needs an owner"),
            RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate limited"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable"),
            Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
            AlreadyExists => (StatusCode::CONFLICT, "already exists"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/json",
            ),
            PrincipalRequired => (
                StatusCode::UNAUTHORIZED,
                "the forwarded request names no authenticated user",
            ),
            RoleInUse => (
                StatusCode::CONFLICT,
                "the role is held by members or pending invites",
            ),
            ReadOnlyRole => (StatusCode::CONFLICT, "built-in roles are read-only"),
        }
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, detail)
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    code: ErrorCode,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = self.code.describe();
        let detail = if status.is_server_error() {
            tracing::error!(code = ?self.code, detail = %self.detail, "request failed");
            match self.code {
                ErrorCode::Unavailable => {
                    "the service cannot complete this call right now; retry later"
                }
                _ => "an internal error occurred; it has been logged",
            }
        } else {
            self.detail.as_str()
        };
        let problem = Problem {
            kind: format!("urn:tenantgate:problem:{}", self.code.as_str()),
            title,
            status: status.as_u16(),
            detail,
            code: self.code,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let retry_after = match self.code {
            // Limits are per hour; a minute is a polite first wait.
            ErrorCode::RateLimited => Some("60"),
            // Overload, timeouts, a busy or read-only database: short-lived.
            ErrorCode::Unavailable => Some("1"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match &e {
            DomainError::NotFound(_) => ErrorCode::NotFound,
            DomainError::Forbidden(_) => ErrorCode::Forbidden,
            DomainError::Invalid(_) => ErrorCode::InvalidRequest,
            DomainError::AlreadyMember(_) => ErrorCode::AlreadyMember,
            DomainError::NotAMember(_) => ErrorCode::NotAMember,
            DomainError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            DomainError::LastOwner(_) => ErrorCode::LastOwner,
            DomainError::InviteExists(_) => ErrorCode::InviteExists,
            DomainError::InviteNotFound => ErrorCode::InviteNotFound,
            DomainError::InviteNotPending(_) => ErrorCode::InviteNotPending,
            DomainError::InviteEmailMismatch => ErrorCode::InviteEmailMismatch,
            DomainError::RateLimited(_) => ErrorCode::RateLimited,
            DomainError::RoleInUse(_) => ErrorCode::RoleInUse,
            DomainError::ReadOnlyRole(_) => ErrorCode::ReadOnlyRole,
            DomainError::Random(_) => ErrorCode::Internal,
            DomainError::Store(s) if s.is_unavailable() => ErrorCode::Unavailable,
            DomainError::Store(_) | DomainError::Task(_) => ErrorCode::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let code = if e.is_timeout() {
            ErrorCode::Unavailable
        } else if e.is_reserved() {
            ErrorCode::ReservedEntityType
        } else {
            ErrorCode::InvalidRequest
        };
        Self::new(code, e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        DomainError::from(e).into()
    }
}
