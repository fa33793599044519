//! API keys: random secrets shown once, stored and compared only as SHA-256
//! hashes, each with a scope.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::model::{self, ApiKey, Scope};
use crate::secret;
use crate::store::{Store, StoreError};
use arc_swap::ArcSwap;

/// Prefix of every key, so leaked keys are easy to recognise and scan for.
pub const KEY_PREFIX: &str = "tgk_";

/// A freshly created key: its description and its secret (shown once).
#[derive(Debug)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] secret::RandomError),
}

/// Creates a key with 256 random bits from the OS.
pub fn create(store: &Store, scope: Scope, name: &str) -> Result<NewKey, KeyError> {
    let secret = secret::generate(KEY_PREFIX)?;
    let id = model::new_id("key");
    let hash = secret::hash(&secret);
    store.write_untracked(|db| db.insert_api_key(&id, name, scope, &hash))?;
    let key = store
        .read(|db| db.list_api_keys())?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(|| StoreError::Corrupt(format!("key `{id}` vanished after insert")))?;
    Ok(NewKey { key, secret })
}

/// The active keys, by hash, kept in memory so that authenticating a call
/// costs no query. Refreshed from the database periodically, so keys created
/// or revoked with the CLI while the server runs take effect.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: ArcSwap<HashMap<String, (String, Scope)>>,
    /// Whether any key was ever created, revoked ones included. Once true it
    /// stays true: revoking the last key must never reopen keyless access.
    ever_created: AtomicBool,
}

impl KeyRing {
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        let ring = Self::default();
        ring.refresh(store)?;
        Ok(ring)
    }

    pub fn refresh(&self, store: &Store) -> Result<(), StoreError> {
        let (keys, total) =
            store.read(|db| Ok::<_, StoreError>((db.active_api_keys()?, db.count_api_keys()?)))?;
        if total > 0 {
            self.ever_created.store(true, Ordering::SeqCst);
        }
        let map = keys
            .into_iter()
            .map(|(hash, id, scope)| (hash, (id, scope)))
            .collect();
        self.keys.store(Arc::new(map));
        Ok(())
    }

    /// True while no key was ever created: the only state in which a
    /// loopback listener admits calls without a key.
    pub fn never_created(&self) -> bool {
        !self.ever_created.load(Ordering::SeqCst)
    }

    /// The id and scope of the key with this secret, if it is active.
    pub fn lookup(&self, secret: &str) -> Option<(String, Scope)> {
        self.keys.load().get(&secret::hash(secret)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = Store::open(&path).unwrap();
        let new = create(&store, Scope::Manage, "ci").unwrap();
        assert!(new.secret.starts_with(KEY_PREFIX));
        assert!(new.secret.len() >= KEY_PREFIX.len() + 43);

        let ring = KeyRing::load(&store).unwrap();
        assert!(!ring.never_created());
        assert_eq!(
            ring.lookup(&new.secret),
            Some((new.key.id.clone(), Scope::Manage))
        );
        assert_eq!(ring.lookup("tgk_wrong"), None);

        let raw = std::fs::read(&path).unwrap();
        let needle = new.secret.as_bytes();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "secret stored in clear"
        );

        store
            .write_untracked(|db| db.revoke_api_key(&new.key.id))
            .unwrap();
        assert_eq!(
            store.read(|db| db.data_revision()).unwrap(),
            0,
            "keys are not membership data"
        );
        ring.refresh(&store).unwrap();
        assert_eq!(ring.lookup(&new.secret), None);
        assert!(
            !ring.never_created(),
            "revoking the last key must not reopen keyless mode"
        );
    }
}
