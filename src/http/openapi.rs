//! The OpenAPI 3.1 document, generated from the handlers and types so it
//! cannot drift from the code. Served at `GET /v1/openapi.json`.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::{decisions, forward, invites, ops, orgs, permissions, roles, workspaces};

#[path = "openapi_constraints.rs"]
mod constraints;

/// Every error, as RFC 9457 problem+json.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// `urn:tenantgate:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// The stable error code: match on this, not on `detail`.
    #[schema(example = "last_owner")]
    code: String,
}

/// The error answers every endpoint may give.
#[derive(Debug, utoipa::IntoResponses)]
pub enum Problems {
    /// Bad input, missing key or scope, denied by policy, not found, conflict, rate limited.
    #[response(status = "4XX", content_type = "application/problem+json")]
    Client(ProblemDoc),
    /// Unavailable (503) or internal error (500); details are logged, never sent.
    #[response(status = "5XX", content_type = "application/problem+json")]
    Server(ProblemDoc),
}

/// The end user a management call acts for.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct ActorHeader {
    /// The user on whose behalf the call is made; the policies decide with
    /// this user as principal. Without it, an `admin` key makes a system
    /// call and a `manage` key is refused (`actor_required`). `system` is
    /// reserved for system calls: as a header value it is 400
    /// `invalid_request`.
    #[param(rename = "X-Actor-Id", pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub x_actor_id: Option<String>,
}

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "tenantgate",
        description = "Authorization sidecar: organizations, workspaces, memberships and invitations, and Cedar decisions. \
                       API keys go in `Authorization: Bearer <key>`; on loopback with no key ever created, no key is needed.",
    ),
    paths(
        decisions::is_authorized,
        decisions::is_authorized_batch,
        forward::forward_auth,
        forward::routes,
        permissions::get,
        permissions::post,
        orgs::create_org,
        orgs::get_org,
        orgs::update_org,
        orgs::delete_org,
        orgs::user_orgs,
        orgs::list_members,
        orgs::add_member,
        orgs::update_member,
        orgs::remove_member,
        orgs::transfer_ownership,
        orgs::audit,
        roles::permissions,
        roles::list,
        roles::create,
        roles::get,
        roles::update,
        roles::delete,
        workspaces::create,
        workspaces::list,
        workspaces::get,
        workspaces::delete,
        workspaces::list_members,
        workspaces::set_member,
        workspaces::remove_member,
        invites::create,
        invites::list,
        invites::get,
        invites::update,
        invites::resend,
        invites::revoke,
        invites::lookup,
        invites::accept,
        invites::decline,
        ops::policies,
        ops::validate,
        ops::healthz,
        ops::readyz,
        metrics,
        openapi_json,
    ),
    components(schemas(ProblemDoc)),
    modifiers(&BearerKey),
    tags(
        (name = "decisions", description = "Is-authorized questions"),
        (name = "forward auth", description = "The authorization step of a reverse proxy (nginx `auth_request`, Traefik `forwardAuth`), mapped by the routes file"),
        (name = "organizations"),
        (name = "members"),
        (name = "roles", description = "Custom roles: per-organization roles built from grantable permissions, served as generated Cedar policies"),
        (name = "workspaces"),
        (name = "invites", description = "Invitations, managed on behalf of an actor"),
        (name = "invitee", description = "The invitee's side: the token is the capability"),
        (name = "audit"),
        (name = "policies", description = "Policy administration (admin scope)"),
        (name = "operations", description = "Health, readiness, metrics; no key needed"),
    )
)]
pub struct ApiDoc;

/// The Prometheus metrics (documented here; served by `ops::metrics`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"))
)]
#[allow(dead_code)]
fn metrics() {}

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = Object))
)]
pub async fn openapi_json() -> Response {
    match document() {
        Some(doc) => axum::Json(doc).into_response(),
        None => super::error::ApiError::new(
            super::error::ErrorCode::Internal,
            "the API document could not be built",
        )
        .into_response(),
    }
}

/// The document, built once, with the input rules the handlers enforce
/// written into it (see [`constraints`]).
pub fn document() -> Option<&'static Value> {
    static DOC: OnceLock<Option<Value>> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).ok()?;
        constraints::apply(&mut doc);
        Some(doc)
    })
    .as_ref()
}
