//! What the schema of the serving set declares, for tools that build
//! requests themselves (the impact of a policy change samples every action
//! that applies to a resource).

use std::str::FromStr;

use cedar_policy::{Context, EntityUid};
use serde_json::Value;

use super::Authz;

impl Authz {
    /// The ids of the actions a `User` may be asked about on a resource of
    /// type `resource_type`, sorted.
    pub fn actions_on(&self, resource_type: &str) -> Vec<String> {
        let bundle = self.current.load();
        let (Some(user), Some(resource)) =
            (bundle.types.get("User"), bundle.types.get(resource_type))
        else {
            return Vec::new();
        };
        let mut actions: Vec<String> = bundle
            .schema
            .actions_for_principal_and_resource(user, resource)
            .map(|a| a.id().unescaped().to_owned())
            .collect();
        actions.sort();
        actions
    }

    /// Whether `context` is a valid context for action `action` (an id).
    pub fn accepts_context(&self, action: &str, context: &Value) -> bool {
        let bundle = self.current.load();
        let Ok(action) = EntityUid::from_str(&format!("Action::{}", Value::String(action.into())))
        else {
            return false;
        };
        Context::from_json_value(context.clone(), Some((&bundle.schema, &action))).is_ok()
    }
}
