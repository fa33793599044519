//! The entity store of one decision: the sidecar's slice plus the request's
//! own entities, built without Cedar recomputing the whole hierarchy.
//!
//! Cedar's public constructors compute the transitive closure of every
//! entity added (hashing and cloning every uid several times), which was a
//! quarter of a decision. The sidecar's entities are built closed (see
//! [`super::slice`]) and never have host entities as ancestors (the schema
//! shape is checked at load), so only the request's own entities need their
//! ancestors completed, which [`close_host`] does, refusing cycles as Cedar
//! does. The store is then built through cedar-policy-core with the closure
//! taken as computed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cedar_policy::Entities;
use cedar_policy_core::ast;
use cedar_policy_core::entities::{Dereference, NoEntitiesSchema, TCComputation};
use cedar_policy_core::extensions::Extensions;

/// The store of one decision: `base` (the schema's action entities), the
/// sidecar's `sidecar` entities (closed) and the request's `host` entities
/// (already checked against the schema).
pub fn store(
    base: &Entities,
    sidecar: Vec<Arc<ast::Entity>>,
    host: Vec<ast::Entity>,
) -> Result<Entities, String> {
    let store = add(AsRef::as_ref(base).clone(), sidecar)?;
    if host.is_empty() {
        return Ok(store.into());
    }
    let host = close_host(host, &store)?;
    add(store, host.into_iter().map(Arc::new)).map(Into::into)
}

/// Adds entities whose ancestors are complete. Duplicates are refused
/// unless identical, as in every Cedar constructor.
fn add(
    store: cedar_policy_core::entities::Entities,
    entities: impl IntoIterator<Item = Arc<ast::Entity>>,
) -> Result<cedar_policy_core::entities::Entities, String> {
    store
        .add_entities(
            entities,
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            Extensions::none(),
        )
        .map_err(|e| e.to_string())
}

/// Completes the ancestors of the request's entities: the parents, their
/// parents among the request's entities, and the (already complete)
/// ancestors of any parent found in `store`. An entity that is its own
/// ancestor is refused, as Cedar refuses a hierarchy with a cycle.
fn close_host(
    mut host: Vec<ast::Entity>,
    store: &cedar_policy_core::entities::Entities,
) -> Result<Vec<ast::Entity>, String> {
    // The first entity of each uid; a differing duplicate is refused when
    // the store is built, so which one is followed does not matter.
    let mut index: HashMap<&ast::EntityUID, usize> = HashMap::with_capacity(host.len());
    for (i, entity) in host.iter().enumerate() {
        index.entry(entity.uid()).or_insert(i);
    }
    let mut closures = Vec::with_capacity(host.len());
    for entity in &host {
        let mut ancestors: HashSet<ast::EntityUID> = HashSet::new();
        let mut todo: Vec<&ast::EntityUID> = entity.parents().collect();
        while let Some(next) = todo.pop() {
            if !ancestors.insert(next.clone()) {
                continue;
            }
            if let Some(&i) = index.get(next) {
                todo.extend(host.get(i).into_iter().flat_map(|e| e.parents()));
            } else if let Dereference::Data(known) = store.entity(next) {
                ancestors.extend(known.ancestors().cloned());
            }
        }
        if ancestors.contains(entity.uid()) {
            return Err(format!(
                "`{}` is its own ancestor: entity parents may not form a cycle",
                entity.uid()
            ));
        }
        closures.push(ancestors);
    }
    for (entity, ancestors) in host.iter_mut().zip(closures) {
        for ancestor in ancestors {
            // Parents stay parents; only the others are added.
            entity.add_indirect_ancestor(ancestor);
        }
    }
    Ok(host)
}
