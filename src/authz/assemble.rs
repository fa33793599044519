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

use std::collections::HashMap;
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
///
/// Each entity's closure is computed once, from its parents' closures, in
/// one depth-first pass: the work is one bitset union per parent link
/// (linear in entities and links, times a machine word per 64 entities),
/// not a walk of the whole hierarchy above every entity.
fn close_host(
    mut host: Vec<ast::Entity>,
    store: &cedar_policy_core::entities::Entities,
) -> Result<Vec<ast::Entity>, String> {
    let n = host.len();
    let uids: Vec<ast::EntityUID> = host.iter().map(|e| e.uid().clone()).collect();
    // The first entity of each uid; a differing duplicate is refused when
    // the store is built, so which one is followed does not matter.
    let mut index: HashMap<&ast::EntityUID, usize> = HashMap::with_capacity(n);
    for (i, uid) in uids.iter().enumerate() {
        index.entry(uid).or_insert(i);
    }
    // Ancestors outside the request (sidecar entities), numbered after the
    // request's own: bit `n + k` is `outside[k]`.
    let mut outside: Vec<ast::EntityUID> = Vec::new();
    let mut outside_index: HashMap<ast::EntityUID, usize> = HashMap::new();
    let mut number = |uid: &ast::EntityUID| -> usize {
        *outside_index.entry(uid.clone()).or_insert_with(|| {
            outside.push(uid.clone());
            n + outside.len() - 1
        })
    };
    // Per entity: its parents among the request's entities, and the
    // outside ancestors its other parents lead to.
    let mut inner: Vec<Vec<usize>> = Vec::with_capacity(n);
    let mut beyond: Vec<Vec<usize>> = Vec::with_capacity(n);
    for entity in &host {
        let (mut mine, mut theirs) = (Vec::new(), Vec::new());
        for parent in entity.parents() {
            if let Some(&i) = index.get(parent) {
                mine.push(i);
            } else {
                theirs.push(number(parent));
                if let Dereference::Data(known) = store.entity(parent) {
                    theirs.extend(known.ancestors().map(&mut number));
                }
            }
        }
        inner.push(mine);
        beyond.push(theirs);
    }
    let width = n + outside.len();
    let mut closures: Vec<Option<Bits>> = vec![None; n];
    // Iterative depth-first search in post-order over first occurrences;
    // `open` marks the entities on the current path, so meeting one of
    // them again is a cycle.
    let mut open = vec![false; n];
    for root in 0..n {
        if closures[root].is_some() || index.get(&uids[root]) != Some(&root) {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        open[root] = true;
        while let Some((node, next)) = stack.last_mut().map(|top| (top.0, &mut top.1)) {
            if let Some(&parent) = inner[node].get(*next) {
                *next += 1;
                if open[parent] {
                    return Err(cycle(&uids[parent]));
                }
                if closures[parent].is_none() {
                    open[parent] = true;
                    stack.push((parent, 0));
                }
                continue;
            }
            stack.pop();
            open[node] = false;
            closures[node] = Some(closure_of(&inner[node], &beyond[node], &closures, width));
        }
    }
    // A duplicate uid gets the closure of its own parents.
    let duplicates: Vec<(usize, Bits)> = (0..n)
        .filter(|&i| closures[i].is_none())
        .map(|i| (i, closure_of(&inner[i], &beyond[i], &closures, width)))
        .collect();
    for (i, bits) in duplicates {
        closures[i] = Some(bits);
    }
    let mut total = 0usize;
    for (i, bits) in closures.iter().enumerate() {
        let bits = bits
            .as_ref()
            .ok_or("internal: an entity's closure is missing")?;
        if index.get(&uids[i]).is_some_and(|&first| bits.has(first)) {
            return Err(cycle(&uids[i]));
        }
        total = total.saturating_add(bits.count());
    }
    if total > super::bounds::MAX_REQUEST_ANCESTORS {
        return Err(format!(
            "the hierarchy of the request's entities holds {total} ancestor links (each entity \
             counts every entity above it), more than {}; send fewer or shallower entities",
            super::bounds::MAX_REQUEST_ANCESTORS
        ));
    }
    for (entity, bits) in host.iter_mut().zip(closures.iter().flatten()) {
        for k in bits.ones() {
            let ancestor = if k < n {
                uids.get(k)
            } else {
                outside.get(k - n)
            };
            // Parents stay parents; only the others are added.
            if let Some(ancestor) = ancestor {
                entity.add_indirect_ancestor(ancestor.clone());
            }
        }
    }
    Ok(host)
}

fn cycle(uid: &ast::EntityUID) -> String {
    format!("`{uid}` is its own ancestor: entity parents may not form a cycle")
}

/// The closure of one entity: its parents and their closures, and the
/// outside ancestors of its other parents.
fn closure_of(inner: &[usize], beyond: &[usize], closures: &[Option<Bits>], width: usize) -> Bits {
    let mut bits = Bits::new(width);
    for &parent in inner {
        bits.set(parent);
        if let Some(Some(above)) = closures.get(parent) {
            bits.union(above);
        }
    }
    for &k in beyond {
        bits.set(k);
    }
    bits
}

/// A fixed-width set of small integers.
#[derive(Debug, Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(width: usize) -> Self {
        Self(vec![0; width.div_ceil(64)])
    }

    fn set(&mut self, k: usize) {
        if let Some(word) = self.0.get_mut(k / 64) {
            *word |= 1 << (k % 64);
        }
    }

    fn has(&self, k: usize) -> bool {
        self.0.get(k / 64).is_some_and(|w| w & (1 << (k % 64)) != 0)
    }

    fn union(&mut self, other: &Self) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= theirs;
        }
    }

    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    i * 64 + bit
                })
            })
        })
    }
}
