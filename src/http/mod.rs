//! The HTTP API (the only module that touches axum): routes, extractors,
//! problem+json errors, key authentication and the tower-http layers.

mod decisions;
pub mod error;
pub mod extract;
mod forward;
mod invites;
mod offload;
pub mod openapi;
mod ops;
mod orgs;
mod permissions;
mod roles;
mod server;
mod unique_keys;
mod workspaces;

pub use server::{serve, MAX_HEAD_BYTES};

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{BoxError, Router};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use error::{ApiError, ErrorCode};

/// The whole API, ready to serve or to drive in-process with `oneshot`.
pub fn router(app: Arc<App>) -> Router {
    let timeout = Duration::from_millis(app.settings.request_timeout_ms);
    let body_limit = app.settings.max_body_bytes;
    // One semaphore for every route (a per-route limit would multiply it).
    let in_flight = GlobalConcurrencyLimitLayer::new(app.settings.max_in_flight);
    let api = Router::new()
        .route("/v1/is_authorized", post(decisions::is_authorized))
        .route(
            "/v1/is_authorized/batch",
            post(decisions::is_authorized_batch),
        )
        // Any method: proxies differ in the method of their auth call.
        .route("/v1/forward_auth", any(forward::forward_auth))
        .route("/v1/routes", get(forward::routes))
        .route("/v1/orgs", post(orgs::create_org))
        .route(
            "/v1/orgs/{org}",
            get(orgs::get_org)
                .patch(orgs::update_org)
                .delete(orgs::delete_org),
        )
        .route("/v1/users/{user}/orgs", get(orgs::user_orgs))
        .route(
            "/v1/users/{user}/permissions",
            get(permissions::get).post(permissions::post),
        )
        .route("/v1/orgs/{org}/members", get(orgs::list_members))
        .route(
            "/v1/orgs/{org}/members/{user}",
            put(orgs::add_member)
                .patch(orgs::update_member)
                .delete(orgs::remove_member),
        )
        .route("/v1/orgs/{org}/ownership", post(orgs::transfer_ownership))
        .route("/v1/orgs/{org}/roles", get(roles::list).post(roles::create))
        .route(
            "/v1/orgs/{org}/roles/{role}",
            get(roles::get).patch(roles::update).delete(roles::delete),
        )
        .route("/v1/permissions", get(roles::permissions))
        .route("/v1/orgs/{org}/audit", get(orgs::audit))
        .route(
            "/v1/orgs/{org}/workspaces",
            get(workspaces::list).post(workspaces::create),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}",
            get(workspaces::get).delete(workspaces::delete),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}/members",
            get(workspaces::list_members),
        )
        .route(
            "/v1/orgs/{org}/workspaces/{ws}/members/{user}",
            put(workspaces::set_member).delete(workspaces::remove_member),
        )
        .route(
            "/v1/orgs/{org}/invites",
            get(invites::list).post(invites::create),
        )
        .route(
            "/v1/orgs/{org}/invites/{id}",
            get(invites::get)
                .patch(invites::update)
                .delete(invites::revoke),
        )
        .route("/v1/orgs/{org}/invites/{id}/resend", post(invites::resend))
        .route("/v1/invites/lookup", post(invites::lookup))
        .route("/v1/invites/accept", post(invites::accept))
        .route("/v1/invites/decline", post(invites::decline))
        .route("/v1/policies", get(ops::policies))
        .route("/v1/policies/validate", post(ops::validate))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit));

    api.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(observe))
            .layer(SetRequestIdLayer::x_request_id(SequentialRequestId::new()))
            .layer(SetSensitiveRequestHeadersLayer::new([AUTHORIZATION]))
            .layer(TraceLayer::new_for_http())
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(CatchPanicLayer::custom(panicked))
            .layer(HandleErrorLayer::new(overloaded_or_timed_out))
            // Beyond the in-flight limit a request is answered 503 at once
            // rather than queued behind the others.
            .load_shed()
            .layer(in_flight)
            .timeout(timeout),
    )
    .with_state(app)
}

/// Counts and times every request by route template (the matched route,
/// never the raw path, so labels stay few), method and final status
/// (timeouts and panics included: this layer is the outermost).
async fn observe(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    crate::metrics::http_request(route, method, response.status().as_u16(), started.elapsed());
    response
}

/// The standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Request ids `<random process prefix>-<counter>`: unique per process run
/// and across restarts, without a random-number syscall per request.
#[derive(Debug, Clone)]
struct SequentialRequestId {
    prefix: Arc<str>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let prefix: [u8; 6] = rand::random();
        Self {
            prefix: Arc::from(hex::encode(prefix)),
            next: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}

async fn overloaded_or_timed_out(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(ErrorCode::Unavailable, "the request took too long")
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        crate::metrics::request_shed();
        ApiError::new(ErrorCode::Unavailable, "too many requests in flight")
    } else {
        ApiError::new(ErrorCode::Internal, err.to_string())
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::new(ErrorCode::Internal, "a handler panicked").into_response()
}

#[cfg(unix)]
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}

#[cfg(not(unix))]
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
