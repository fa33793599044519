//! Everything a user may do on one resource, for UIs that show or hide
//! buttons: every action of the schema that applies to a `User` and the
//! resource's type, decided one by one with the same slice and policies as
//! `is_authorized`.

use cedar_policy::Context;
use serde::Serialize;
use serde_json::{json, Value};

use super::slice::SliceBuilder;
use super::{assemble, host_entities, parse_request, parse_uid, Authz, Deadline, RequestError};
use crate::snapshot::Snapshot;

/// The answer of `GET /v1/users/{user}/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Permissions {
    pub user: String,
    /// The resource asked about, in Cedar's string form.
    pub resource: String,
    /// The actions the user may perform on it, sorted.
    pub actions: Vec<String>,
    /// Actions whose schema requires context fields: they cannot be
    /// answered without them; ask `/v1/is_authorized` with the context
    /// instead. (The default schema's role context is optional: those
    /// actions are answered "for some role".)
    pub needs_context: Vec<String>,
    pub policy_revision: String,
    pub data_revision: u64,
}

impl Authz {
    /// The actions `user` may perform on `resource` (a uid in object or
    /// string form), with the request's own `entities` for host resources.
    pub fn permissions(
        &self,
        snapshot: &Snapshot,
        user: &str,
        resource: &Value,
        entities: Option<&Value>,
    ) -> Result<Permissions, RequestError> {
        self.permissions_until(snapshot, user, resource, entities, Deadline::none())
    }

    /// [`Authz::permissions`], giving up once `deadline` has passed. The
    /// entities are parsed and their hierarchy built once, for every action.
    pub fn permissions_until(
        &self,
        snapshot: &Snapshot,
        user: &str,
        resource: &Value,
        entities: Option<&Value>,
        deadline: Deadline,
    ) -> Result<Permissions, RequestError> {
        let bundle = self.current.load();
        let resource_uid = parse_uid(&bundle, resource, "resource")?;
        let principal_type = bundle
            .types
            .get("User")
            .ok_or_else(|| RequestError::Invalid("the schema declares no `User` type".into()))?;
        let mut needs_context = Vec::new();
        let mut candidates: Vec<_> = bundle
            .schema
            .actions_for_principal_and_resource(principal_type, resource_uid.type_name())
            .cloned()
            .collect();
        candidates.sort_by_key(|a| a.id().unescaped().to_owned());
        let mut slice =
            SliceBuilder::new(snapshot, &self.entity_cache).map_err(RequestError::Invalid)?;
        let host = host_entities(&bundle, entities, &mut slice, deadline)?;
        let principal = json!({"type": "User", "id": user});
        let mut requests = Vec::with_capacity(candidates.len());
        for action in candidates {
            let name = action.id().unescaped().to_owned();
            // An action whose context has required fields cannot be
            // answered without one.
            if Context::from_json_value(json!({}), Some((&bundle.schema, &action))).is_err() {
                needs_context.push(name);
                continue;
            }
            let action = json!({"type": action.type_name().to_string(), "id": name});
            let request = parse_request(&bundle, &principal, &action, resource, None, &mut slice)?;
            requests.push((name, request));
        }
        let entities = assemble(&bundle, host, slice)?;
        let mut actions = Vec::new();
        for (name, request) in &requests {
            deadline.check()?;
            if self
                .evaluate(&bundle, request, &entities, snapshot.revision())
                .allowed()
            {
                actions.push(name.clone());
            }
        }
        Ok(Permissions {
            user: user.to_owned(),
            resource: resource_uid.to_string(),
            actions,
            needs_context,
            policy_revision: bundle.revision.clone(),
            data_revision: snapshot.revision(),
        })
    }
}
