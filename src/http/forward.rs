//! `GET /v1/forward_auth`: the sidecar as the authorization step of a
//! reverse proxy (nginx `auth_request`, Traefik `forwardAuth`). The proxy
//! forwards the original method and URI and the user its authentication
//! established; the routes file turns them into an action and a resource.
//! The answer is 200, 401 (no end user: the proxy may ask them to sign in)
//! or 403, and every refusal is a deny; only a proxy that cannot
//! authenticate to the sidecar gets a 500, which the proxy shows as an
//! error rather than a sign-in prompt.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use super::extract::{Caller, Json, KeyOnly};
use crate::app::App;
use crate::authz::{Decision, DecisionRequest, Outcome};
use crate::metrics::Forward;
use crate::model::Scope;
use crate::routes::{Refusal, RoutesInfo};

/// The forwarded method: nginx convention first, then Traefik's.
const METHOD_HEADERS: [&str; 2] = ["x-original-method", "x-forwarded-method"];
/// The forwarded request target (path and query).
const URI_HEADERS: [&str; 2] = ["x-original-uri", "x-forwarded-uri"];

/// Headers with which a client asks a backend to treat a request as
/// another method. A backend that honours one would run a method the
/// decision never looked at, so a request carrying one is denied unless
/// its route sets `allow_method_override` (it is then judged as that
/// method).
const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// A header in which the proxy may pass the `check` key instead of
/// `Authorization`: proxies log the user-info of a failing auth URL, never
/// a request header their configuration sets.
pub const KEY_HEADER: &str = "x-tenantgate-key";

/// Longest text put in a debugging header.
const MAX_HEADER_TEXT: usize = 512;

/// The forward-auth request headers (documentation only).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct ForwardHeaders {
    /// The original method (nginx: `$request_method`).
    #[param(rename = "X-Original-Method")]
    x_original_method: Option<String>,
    /// The original request target, path and query (nginx: `$request_uri`).
    #[param(rename = "X-Original-URI")]
    x_original_uri: Option<String>,
    /// The original method as Traefik sends it.
    #[param(rename = "X-Forwarded-Method")]
    x_forwarded_method: Option<String>,
    /// The original request target as Traefik sends it.
    #[param(rename = "X-Forwarded-Uri")]
    x_forwarded_uri: Option<String>,
    /// The `check` API key, as a proxy's configuration sets it (instead of
    /// `Authorization`, which proxies may log as a URL's user-info).
    #[param(rename = "X-Tenantgate-Key")]
    x_tenantgate_key: Option<String>,
    /// Asks the backend to run another method: denied unless the route
    /// sets `allow_method_override`; also `X-HTTP-Method` and
    /// `X-Method-Override`.
    #[param(rename = "X-HTTP-Method-Override")]
    x_http_method_override: Option<String>,
    /// The authenticated user (the header name is the
    /// `forward_auth_user_header` setting); `system`, reserved for system
    /// calls, is refused (403).
    #[param(rename = "X-User-Id", pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    x_user_id: Option<String>,
}

/// What a forward-auth request came to, before it becomes a response.
struct Verdict {
    outcome: Forward,
    decision: Option<Decision>,
    action: Option<String>,
    resource: Option<String>,
    detail: String,
}

impl Verdict {
    fn refused(outcome: Forward, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            decision: None,
            action: None,
            resource: None,
            detail: detail.into(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/forward_auth",
    tag = "forward auth",
    params(ForwardHeaders),
    responses(
        (status = 200, description = "allowed; the proxy lets the request through", body = crate::authz::Decision,
         headers(("X-Authz-Decision" = String, description = "`Allow`"),
                 ("X-Authz-Reasons" = String, description = "ids of the deciding policies, comma-separated"),
                 ("X-Authz-Policy-Revision" = String))),
        (status = 401, description = "no user in the forwarded request (`principal_required`): the proxy should send the user to sign in", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 500, description = "the proxy sent a missing or unknown API key (`internal`): a configuration error, never a sign-in prompt; the sidecar logs it", body = super::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "denied by the policies, or no route, or an unusable forwarded request (`forbidden`; `X-Authz-Detail` says why), or a key without the `check` scope", body = super::openapi::ProblemDoc, content_type = "application/problem+json",
         headers(("X-Authz-Decision" = String, description = "`Deny`"),
                 ("X-Authz-Reasons" = String),
                 ("X-Authz-Detail" = String, description = "why, when no policy decided"))),
    ),
    security(("api_key" = []), ())
)]
pub async fn forward_auth(
    State(app): State<Arc<App>>,
    key: Result<KeyOnly, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = match headers.get(KEY_HEADER) {
        Some(value) if !app.keyless_mode() => value
            .to_str()
            .ok()
            .and_then(|secret| app.keys.lookup(secret.trim()))
            .map(|(_, scope)| scope)
            .ok_or_else(|| {
                misconfigured("the `X-Tenantgate-Key` header holds an unknown or revoked API key")
            })?,
        _ => match key {
            Ok(KeyOnly(caller)) => caller.scope,
            Err(e) if e.code == ErrorCode::Unauthenticated => {
                return Err(misconfigured(&e.detail));
            }
            Err(e) => return Err(e),
        },
    };
    if !scope.allows(Scope::Check) {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "forward auth needs a key with the `check` scope",
        ));
    }
    let verdict = judge(&app, &headers);
    crate::metrics::forward_auth(verdict.outcome);
    Ok(respond(verdict))
}

/// A proxy that cannot authenticate to the sidecar is misconfigured: the
/// answer is a 500 (nginx and Traefik show an error page), not a 401 a
/// proxy would turn into a sign-in prompt for the end user.
fn misconfigured(why: &str) -> ApiError {
    tracing::error!(
        reason = why,
        "forward auth: the proxy sent no API key or an unknown one; every request is refused until the proxy configuration is fixed"
    );
    crate::metrics::forward_auth(Forward::Invalid);
    ApiError::new(
        ErrorCode::Internal,
        format!("forward auth is misconfigured: {why}"),
    )
}

fn judge(app: &App, headers: &HeaderMap) -> Verdict {
    let user_header = app.settings.forward_auth_user_header.as_str();
    let user = match forwarded(headers, &[user_header]) {
        Ok(None) => {
            return Verdict::refused(
                Forward::NoPrincipal,
                format!("no `{user_header}` header: the proxy's authentication names no user"),
            )
        }
        Ok(Some(user)) if crate::model::is_valid_user_id(&user) => user,
        Ok(Some(user)) if crate::model::is_reserved_user_id(&user) => {
            return Verdict::refused(
                Forward::Invalid,
                format!(
                    "`{user_header}` `{user}` is reserved for system calls and is never a user id"
                ),
            )
        }
        Ok(Some(_)) => {
            return Verdict::refused(
                Forward::Invalid,
                format!("`{user_header}` must be 1-128 characters of A-Z a-z 0-9 . _ : @ -"),
            )
        }
        Err(e) => return Verdict::refused(Forward::Invalid, e),
    };
    let (method, uri) = match (
        forwarded(headers, &METHOD_HEADERS),
        forwarded(headers, &URI_HEADERS),
    ) {
        (Ok(Some(m)), Ok(Some(u))) => (m, u),
        (Err(e), _) | (_, Err(e)) => return Verdict::refused(Forward::Invalid, e),
        _ => {
            return Verdict::refused(
                Forward::Invalid,
                "the proxy must send the original method and URI (`X-Original-Method` and `X-Original-URI`, or `X-Forwarded-Method` and `X-Forwarded-Uri`)",
            )
        }
    };
    let method_override = match forwarded(headers, &METHOD_OVERRIDE_HEADERS) {
        Ok(m) => m,
        Err(e) => return Verdict::refused(Forward::Invalid, e),
    };
    let resolved = match app
        .routes
        .resolve(&method, &uri, method_override.as_deref())
    {
        Ok(r) => r,
        Err(refusal) => {
            let outcome = match refusal {
                Refusal::InvalidPath(_) | Refusal::MethodOverride(_) => Forward::Invalid,
                Refusal::NoRoute { .. } | Refusal::NoFile(_) => Forward::NoRoute,
            };
            return Verdict::refused(outcome, refusal.to_string());
        }
    };
    let req = resolved.request(&user);
    let action = Some(resolved.action.clone());
    let resource = Some(entity_text(&req));
    let snapshot = app.snapshot.load();
    let started = Instant::now();
    match app.authz.decide(&snapshot, &req) {
        Ok(decision) => {
            super::decisions::observe(app, &req, &decision, started.elapsed());
            let outcome = match decision.decision {
                Outcome::Allow => Forward::Allow,
                Outcome::Deny => Forward::Deny,
            };
            Verdict {
                outcome,
                detail: format!(
                    "user `{user}` may not `{}` on `{}`",
                    resolved.action,
                    resource.as_deref().unwrap_or_default()
                ),
                decision: Some(decision),
                action,
                resource,
            }
        }
        Err(e) => {
            // The route names something the schema does not know: a
            // configuration error, not the client's.
            tracing::warn!(route = resolved.route + 1, error = %e, "forward-auth route cannot be evaluated; denying");
            Verdict {
                outcome: Forward::Invalid,
                detail: format!("route {} cannot be evaluated: {e}", resolved.route + 1),
                decision: None,
                action,
                resource,
            }
        }
    }
}

/// `Type::"id"` of the request's resource, for the debugging header.
fn entity_text(req: &DecisionRequest) -> String {
    let kind = req.resource["type"].as_str().unwrap_or_default();
    let id = req.resource["id"].as_str().unwrap_or_default();
    format!("{kind}::{}", serde_json::Value::String(id.to_owned()))
}

/// The one value of the first of `names` present. A header repeated, or
/// two of `names` disagreeing, is refused: a client could have added one
/// the proxy did not overwrite.
fn forwarded(headers: &HeaderMap, names: &[&str]) -> Result<Option<String>, String> {
    let mut found: Option<(&str, String)> = None;
    for name in names {
        let mut values = headers.get_all(*name).iter();
        let Some(value) = values.next() else { continue };
        if values.next().is_some() {
            return Err(format!("`{name}` appears more than once"));
        }
        let value = value
            .to_str()
            .map_err(|_| format!("`{name}` is not visible ASCII"))?
            .trim()
            .to_owned();
        if value.is_empty() {
            continue;
        }
        match &found {
            Some((first, v)) if *v != value => {
                return Err(format!("`{first}` and `{name}` disagree"));
            }
            Some(_) => {}
            None => found = Some((name, value)),
        }
    }
    Ok(found.map(|(_, v)| v))
}

fn respond(verdict: Verdict) -> Response {
    let mut response = match (&verdict.decision, verdict.outcome) {
        (Some(d), Forward::Allow) => Json(d.clone()).into_response(),
        (_, Forward::NoPrincipal) => {
            ApiError::new(ErrorCode::PrincipalRequired, verdict.detail.clone()).into_response()
        }
        _ => ApiError::new(ErrorCode::Forbidden, verdict.detail.clone()).into_response(),
    };
    let h = response.headers_mut();
    let allowed = verdict.outcome == Forward::Allow;
    set(
        h,
        "x-authz-decision",
        if allowed { "Allow" } else { "Deny" },
    );
    if let Some(d) = &verdict.decision {
        set(h, "x-authz-reasons", &d.reasons.join(","));
        set(h, "x-authz-policy-revision", &d.policy_revision);
    }
    if let Some(action) = &verdict.action {
        set(h, "x-authz-action", action);
    }
    if let Some(resource) = &verdict.resource {
        set(h, "x-authz-resource", resource);
    }
    if verdict.decision.is_none() {
        set(h, "x-authz-detail", &verdict.detail);
    }
    response
}

/// Sets a debugging header, its text reduced to visible ASCII.
fn set(headers: &mut HeaderMap, name: &'static str, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_HEADER_TEXT)
        .collect();
    if let Ok(value) = HeaderValue::from_str(&clean) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[utoipa::path(
    get,
    path = "/v1/routes",
    tag = "forward auth",
    responses((status = 200, description = "the forward-auth routes serving and the last reload", body = crate::routes::RoutesInfo), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn routes(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<Json<RoutesInfo>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(app.routes.info()))
}
