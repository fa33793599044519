//! `GET|POST /v1/users/{user}/permissions`: every action a user may perform
//! on one resource, in one call (to show or hide buttons).

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::extract::{Caller, Json, Path, Query};
use super::offload;
use crate::app::App;
use crate::authz::Permissions;
use crate::model::{self, Scope};

/// `?resource=Type::"id"`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PermissionsQuery {
    /// The resource, in Cedar's string form, e.g. `Organization::"acme"`.
    resource: String,
}

/// The body of the POST form, for host resources that need their entities.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsBody {
    /// The resource: `{"type", "id"}` or `Type::"id"`.
    #[schema(value_type = crate::authz::EntityRef)]
    resource: Value,
    /// The host's own entities, as in `/v1/is_authorized`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    entities: Option<Value>,
}

async fn answer(
    app: &Arc<App>,
    caller: &Caller,
    user: String,
    resource: Value,
    entities: Option<Value>,
) -> Result<Json<Permissions>, ApiError> {
    caller.require(Scope::Check)?;
    if !model::is_valid_id(&user) {
        return Err(ApiError::invalid(
            "the user id must be 1-128 characters of A-Z a-z 0-9 . _ : @ -",
        ));
    }
    let snapshot = app.snapshot.load_full();
    let deadline = offload::deadline(app.settings.request_timeout_ms);
    // Every action of the resource's type is one evaluation over the same
    // entities: the weight of the entities alone decides where it runs.
    let answer = if offload::inline(crate::authz::weight(entities.as_ref()), 1) {
        app.authz
            .permissions_until(&snapshot, &user, &resource, entities.as_ref(), deadline)
    } else {
        let authz = app.authz.clone();
        offload::run(move || {
            authz.permissions_until(&snapshot, &user, &resource, entities.as_ref(), deadline)
        })
        .await?
    };
    Ok(Json(answer?))
}

#[utoipa::path(
    get,
    path = "/v1/users/{user}/permissions",
    tag = "decisions",
    params(("user" = String, Path, description = "user id"), PermissionsQuery),
    responses((status = 200, description = "the actions the user may perform on the resource", body = Permissions), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn get(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(user): Path<String>,
    Query(q): Query<PermissionsQuery>,
) -> Result<Json<Permissions>, ApiError> {
    answer(&app, &caller, user, Value::String(q.resource), None).await
}

#[utoipa::path(
    post,
    path = "/v1/users/{user}/permissions",
    tag = "decisions",
    params(("user" = String, Path, description = "user id")),
    request_body = PermissionsBody,
    responses((status = 200, description = "the actions the user may perform on the resource", body = Permissions), super::openapi::Problems),
    security(("api_key" = []), ())
)]
pub async fn post(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(user): Path<String>,
    Json(body): Json<PermissionsBody>,
) -> Result<Json<Permissions>, ApiError> {
    answer(&app, &caller, user, body.resource, body.entities).await
}
