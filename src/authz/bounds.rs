//! What one call may cost: explicit limits on what a request may carry, a
//! deadline checked between the steps of a decision, and the id rule for
//! the sidecar's own entities named as principal or resource.
//!
//! A request's own entities can form a deep, wide hierarchy (folders in
//! folders); its closure is computed once per call (see
//! [`super::assemble`]), and these limits keep that work, and the memory
//! it takes, small whatever the request carries.

use std::time::{Duration, Instant};

use cedar_policy::EntityUid;
use serde_json::Value;

use super::RequestError;
use crate::model::is_valid_id;

/// Most parent links (the sum of every entity's `parents`) a request's own
/// entities may carry, shared by every question of a batch or permissions
/// call.
pub const MAX_REQUEST_PARENTS: usize = 5_000;

/// Most ancestor links the closure of a request's own entities may hold
/// (each entity counts every entity above it, however far, and the sidecar
/// entities above those). A tree of 1,000 folders a few levels deep holds
/// some 30,000; 1,000 folders in one chain would hold ~500,000, and every
/// link is kept in memory and hashed for each decision, so such a hierarchy
/// is refused rather than built.
pub const MAX_REQUEST_ANCESTORS: usize = 100_000;

/// The point after which a call is abandoned: checked between the steps of
/// a decision (parsing entities, building the hierarchy, each evaluation),
/// so work whose caller has already been answered "too long" stops soon.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline (management checks, the command line, policy tests).
    pub fn none() -> Self {
        Self(None)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now().checked_add(budget))
    }

    /// `Err(TimedOut)` once the deadline has passed.
    pub fn check(&self) -> Result<(), RequestError> {
        match self.0 {
            Some(at) if Instant::now() >= at => Err(RequestError::TimedOut),
            _ => Ok(()),
        }
    }
}

/// How much a request's own entities weigh, read from the JSON without
/// parsing it: entities plus parent links. Cheap enough to decide, before
/// any work, whether a call is evaluated in place or on a worker.
pub fn weight(entities: Option<&Value>) -> usize {
    let Some(Value::Array(items)) = entities else {
        return 0;
    };
    items
        .iter()
        .map(|item| {
            1 + item
                .get("parents")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum()
}

/// Refuses a principal or resource of a type the sidecar owns whose id
/// breaks the sidecar's id rule: such an entity can never exist, so the
/// question is malformed rather than denied. Host types keep every id
/// Cedar accepts.
pub fn check_sidecar_id(uid: &EntityUid, what: &str) -> Result<(), RequestError> {
    let kind = uid.type_name();
    if !super::is_sidecar_type(kind) {
        return Ok(());
    }
    let id = uid.id().unescaped();
    let ok = if super::slice::is_role_type(kind) {
        is_valid_role_group_id(id)
    } else {
        is_valid_id(id)
    };
    if ok {
        return Ok(());
    }
    let rule = if super::slice::is_role_type(kind) {
        "a `Role` id must be `<org>#<role>` or `<org>/<workspace>#<role>`, each part 1-128 characters of A-Z a-z 0-9 . _ : @ -"
    } else {
        "ids of the sidecar's types must be 1-128 characters of A-Z a-z 0-9 . _ : @ -"
    };
    Err(RequestError::Invalid(format!(
        "{what}: `{kind}::{}` is not a valid id: {rule}",
        Value::String(shown(id))
    )))
}

/// The id of a role group as the sidecar names them: `<org>#<role>` or
/// `<org>/<workspace>#<role>` (a custom role's name is `custom:<key>`).
fn is_valid_role_group_id(id: &str) -> bool {
    let Some((scope, role)) = id.rsplit_once('#') else {
        return false;
    };
    let scope_ok = match scope.split_once('/') {
        Some((org, ws)) => is_valid_id(org) && is_valid_id(ws),
        None => is_valid_id(scope),
    };
    scope_ok && is_valid_id(role)
}

/// An id as shown in an error: at most 64 characters, control characters
/// escaped (the JSON form escapes them).
fn shown(id: &str) -> String {
    const SHOWN: usize = 64;
    match id.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn uid(text: &str) -> EntityUid {
        EntityUid::from_str(text).unwrap()
    }

    #[test]
    fn sidecar_ids_follow_the_id_rule_and_host_ids_do_not() {
        for good in [
            r#"User::"alice""#,
            r#"Organization::"acme""#,
            r##"Role::"acme#owner""##,
            r#"Role::"acme/ws1#admin""#,
            r#"Role::"acme#custom:hr""#,
            r#"Document::"""#,
            r#"Document::"a b\n/c""#,
        ] {
            assert!(check_sidecar_id(&uid(good), "resource").is_ok(), "{good}");
        }
        let long = format!(r#"Workspace::"{}""#, "w".repeat(129));
        for bad in [
            r#"User::"""#,
            r#"User::"a b""#,
            r#"User::"a\nb""#,
            r#"Organization::"ac/me""#,
            long.as_str(),
            r#"Role::"acme""#,
            r##"Role::"#owner""##,
            r##"Role::"acme/#admin""##,
        ] {
            let err = check_sidecar_id(&uid(bad), "principal").unwrap_err();
            assert!(err.to_string().starts_with("principal: "), "{err}");
        }
    }

    #[test]
    fn weight_counts_entities_and_parents() {
        let entities = serde_json::json!([
            {"uid": {"type": "Doc", "id": "a"}, "parents": [{"type": "Doc", "id": "b"}]},
            {"uid": {"type": "Doc", "id": "b"}},
        ]);
        assert_eq!(weight(Some(&entities)), 3);
        assert_eq!(weight(None), 0);
    }

    #[test]
    fn a_passed_deadline_times_out() {
        assert!(Deadline::none().check().is_ok());
        assert!(Deadline::after(Duration::from_secs(3600)).check().is_ok());
        assert_eq!(
            Deadline::after(Duration::ZERO).check(),
            Err(RequestError::TimedOut)
        );
    }
}
