//! API keys, stored by the SHA-256 of their secret only.

use rusqlite::params;

use super::{parse_column, SqliteDb, StoreError};
use crate::model::{ApiKey, Scope};
use crate::store::api::*;

impl KeyStore for SqliteDb<'_> {
    fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        scope: Scope,
        key_hash: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO api_keys (id, name, scope, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, scope.as_str(), key_hash, self.now],
        )?;
        Ok(())
    }

    fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, scope, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, name, scope, created_at, revoked_at)| {
                Ok(ApiKey {
                    id,
                    name,
                    scope: parse_column(scope, "scope")?,
                    created_at,
                    revoked_at,
                })
            })
            .collect()
    }

    fn revoke_api_key(&self, id: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, self.now],
        )?;
        Ok(n == 1)
    }

    fn count_api_keys(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM api_keys", [], |row| row.get(0))?;
        Ok(n.try_into().unwrap_or(0))
    }

    fn active_api_keys(&self) -> Result<Vec<(String, String, Scope)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key_hash, id, scope FROM api_keys WHERE revoked_at IS NULL")?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(hash, id, scope)| Ok((hash, id, parse_column(scope, "scope")?)))
            .collect()
    }
}
