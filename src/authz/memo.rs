//! Parts of requests already parsed and checked against the schema, kept
//! with the policy set they were checked against (a reload starts afresh).
//!
//! Parsing a host entity with the schema, or a context, and checking the
//! request against the schema cost more than evaluating the policies, yet
//! hosts ask about the same documents, actions and contexts over and over.
//! What Cedar makes of a JSON text under one schema never changes, so the
//! result is kept by the text itself (only short texts, so the memory stays
//! bounded whatever requests carry). The checks on what a request may
//! supply (reserved types, role-group parents) also depend on the text
//! alone: every new text is checked before it is parsed and kept, so a
//! kept text has passed them.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use cedar_policy::{Context, EntityTypeName, EntityUid, Request, Schema};
use cedar_policy_core::ast;
use cedar_policy_core::validator::ValidatorEntityTypeKind;
use serde_json::Value;

use super::cache::Bounded;
use super::{invalid, RequestError};

/// Longest JSON text kept, in bytes.
const MAX_TEXT: usize = 2048;
/// Most entries per kind (at most ~2 KB of text each, plus what it parses to).
const CAPACITY: usize = 4096;

/// What a request is checked against: its action, the types of its
/// principal and resource, and its context (as JSON text; empty for none).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Shape {
    action: EntityUid,
    principal: Part,
    resource: Part,
    context: String,
}

/// A principal or resource as far as the schema's verdict depends on it:
/// its type, or for an enumerated type (`entity Plan enum ["free", "pro"]`)
/// the whole uid, since only the listed ids conform.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Part {
    Type(EntityTypeName),
    Uid(EntityUid),
}

#[derive(Debug)]
pub struct ParseCache {
    /// JSON text of a host entity → the entity, parsed with the schema.
    entities: Bounded<String, Arc<ParsedEntity>>,
    /// A request shape that passed the schema → its parsed context.
    contexts: Bounded<Shape, Context>,
    /// The schema's enumerated entity types, found on first use.
    enums: OnceLock<HashSet<EntityTypeName>>,
}

impl Default for ParseCache {
    fn default() -> Self {
        Self {
            entities: Bounded::new(CAPACITY),
            contexts: Bounded::new(CAPACITY),
            enums: OnceLock::new(),
        }
    }
}

/// A host entity parsed with the schema, and the sidecar entities it
/// references (which the decision must then include).
#[derive(Debug)]
pub struct ParsedEntity {
    pub entity: ast::Entity,
    pub refs: Vec<EntityUid>,
}

/// The JSON text of `value` when short enough to keep.
pub fn text(value: &Value) -> Option<String> {
    serde_json::to_string(value)
        .ok()
        .filter(|t| t.len() <= MAX_TEXT)
}

impl ParseCache {
    /// The host entity of JSON text `text`, if it was parsed before (and
    /// so passed every check a request's entity must pass).
    pub fn known_entity(&self, text: Option<&str>) -> Option<Arc<ParsedEntity>> {
        text.and_then(|t| self.entities.get(t, |e| Some(e.clone())))
    }

    /// Keeps the host entity parsed from `text`.
    pub fn keep_entity(&self, text: String, parsed: Arc<ParsedEntity>) {
        self.entities.insert(text, parsed);
    }

    /// The request, checked against `schema`; its context is an object or
    /// `None`. A shape that passed before is not checked again.
    pub fn request(
        &self,
        schema: &Schema,
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: Option<&Value>,
    ) -> Result<Request, RequestError> {
        let context_text = match context {
            None => Some(String::new()),
            Some(value) => text(value),
        };
        let enums = self.enums.get_or_init(|| enum_types(schema));
        let part = |uid: &EntityUid| {
            if !enums.is_empty() && enums.contains(uid.type_name()) {
                Part::Uid(uid.clone())
            } else {
                Part::Type(uid.type_name().clone())
            }
        };
        let shape = context_text.map(|context| Shape {
            action: action.clone(),
            principal: part(&principal),
            resource: part(&resource),
            context,
        });
        if let Some(parsed) = shape
            .as_ref()
            .and_then(|s| self.contexts.get(s, |c| Some(c.clone())))
        {
            // The schema's verdict depends on the shape alone (on ids only
            // for enumerated types, which the shape then holds), and this
            // shape passed.
            return Request::new(principal, action, resource, parsed, None)
                .map_err(|e| invalid("request does not conform to the schema", e));
        }
        let parsed = match context {
            None => Context::empty(),
            Some(value) => Context::from_json_value(value.clone(), Some((schema, &action)))
                .map_err(|e| invalid("context", e))?,
        };
        let request = Request::new(principal, action, resource, parsed.clone(), Some(schema))
            .map_err(|e| invalid("request does not conform to the schema", e))?;
        if let Some(shape) = shape {
            self.contexts.insert(shape, parsed);
        }
        Ok(request)
    }
}

/// The entity types `schema` declares as enumerations.
fn enum_types(schema: &Schema) -> HashSet<EntityTypeName> {
    let schema: &cedar_policy_core::validator::ValidatorSchema = schema.as_ref();
    schema
        .entity_types()
        .filter(|t| matches!(t.kind, ValidatorEntityTypeKind::Enum(_)))
        .map(|t| EntityTypeName::from(t.name().clone()))
        .collect()
}
