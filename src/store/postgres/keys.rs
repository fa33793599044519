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
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                parse_column(scope, "scope")?,
            ))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::compare_steps::{run_both, show, Dbs, Step};
    use super::*;

    fn all(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(show(db.keys.list_api_keys()));
        out.push(show(db.keys.count_api_keys()));
        // Unordered on both backends: compared sorted.
        let mut active = db.keys.active_api_keys();
        if let Ok(keys) = &mut active {
            keys.sort();
        }
        out.push(show(active));
    }

    fn first(db: &Dbs<'_>, out: &mut Vec<String>) {
        all(db, out);
        out.push(show(db.keys.insert_api_key(
            "kb",
            "ci",
            Scope::Check,
            "hash-b",
        )));
        out.push(show(db.keys.insert_api_key(
            "kc",
            "ops",
            Scope::Admin,
            "hash-c",
        )));
        all(db, out);
    }

    fn second(db: &Dbs<'_>, out: &mut Vec<String>) {
        // Created later, listed later despite its smaller id.
        out.push(show(db.keys.insert_api_key(
            "ka",
            "app",
            Scope::Manage,
            "hash-a",
        )));
        all(db, out);
        out.push(show(db.keys.revoke_api_key("kc")));
        out.push(show(db.keys.revoke_api_key("kc")));
        out.push(show(db.keys.revoke_api_key("nope")));
        all(db, out);
    }

    fn duplicate_id(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(show(db.keys.insert_api_key(
            "ka",
            "again",
            Scope::Check,
            "hash-z",
        )));
    }

    fn duplicate_hash(db: &Dbs<'_>, out: &mut Vec<String>) {
        out.push(show(db.keys.insert_api_key(
            "kz",
            "again",
            Scope::Check,
            "hash-a",
        )));
    }

    fn after(db: &Dbs<'_>, out: &mut Vec<String>) {
        all(db, out);
    }

    #[test]
    fn api_keys_answer_as_on_sqlite() {
        let steps: &[Step] = &[first, second, duplicate_id, duplicate_hash, after];
        let Some(answers) = run_both("keys", steps) else {
            return;
        };
        let text = answers.join("\n");
        assert_eq!(
            answers.iter().filter(|l| *l == "constraint").count(),
            2,
            "{text}"
        );
        for expected in [
            "revoked_at: None",
            "revoked_at: Some(\"<now1>\")",
            "\"ka\", name: \"app\"",
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }
}
