//! API keys, stored by the SHA-256 of their secret only.

use super::super::{parse_column, StoreError};
use super::PgDb;
use crate::model::{ApiKey, Scope};
use crate::store::api::*;

impl KeyStore for PgDb<'_> {
    fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        scope: Scope,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO api_keys (id, name, scope, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &name, &scope.as_str(), &key_hash, &self.now_str()],
        )?;
        Ok(())
    }

    fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.query(
            "SELECT id, name, scope, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
            &[],
        )?
        .iter()
        .map(|row| {
            let scope: String = row.try_get(2)?;
            Ok(ApiKey {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                scope: parse_column(scope, "scope")?,
                created_at: row.try_get(3)?,
                revoked_at: row.try_get(4)?,
            })
        })
        .collect()
    }

    fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &self.now_str()],
        )?;
        Ok(n == 1)
    }

    fn count_api_keys(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .query_one("SELECT COUNT(*) FROM api_keys", &[])?
            .try_get(0)?;
        Ok(n.try_into().unwrap_or(0))
    }

    fn active_api_keys(&self) -> Result<Vec<(String, String, Scope)>, StoreError> {
        // Unordered, as in SQLite: callers index the keys by hash.
        self.query(
            "SELECT key_hash, id, scope FROM api_keys WHERE revoked_at IS NULL",
            &[],
        )?
        .iter()
        .map(|row| {
            let scope: String = row.try_get(2)?;
            Ok((row.try_get(0)?, row.try_get(1)?, parse_column(scope, "scope")?))
        })
        .collect()
    }
}
