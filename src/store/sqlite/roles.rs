//! Custom roles of organizations, and who holds them.

use rusqlite::{params, OptionalExtension};

use super::{SqliteDb, StoreError};
use crate::model::CustomRole;
use crate::store::api::*;
use crate::store::{permissions_json, with_permissions};

const COLUMNS: &str = "org_id, key, name, description, permissions, created_at, updated_at";

fn role_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(CustomRole, String)> {
    Ok((
        CustomRole {
            org_id: row.get(0)?,
            key: row.get(1)?,
            name: row.get(2)?,
            description: row.get(3)?,
            permissions: Vec::new(),
            created_at: row.get(5)?,
            updated_at: row.get(6)?,
        },
        row.get(4)?,
    ))
}

impl RoleStore for SqliteDb<'_> {
    fn insert_custom_role(&self, role: &CustomRole) -> Result<bool, StoreError> {
        let n = self.write_role(
            "INSERT INTO custom_roles (org_id, key, name, description, permissions, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (org_id, key) DO NOTHING",
            role,
        )?;
        Ok(n == 1)
    }

    fn update_custom_role(&self, role: &CustomRole) -> Result<(), StoreError> {
        self.write_role(
            "UPDATE custom_roles SET name = ?3, description = ?4, permissions = ?5, updated_at = ?6
             WHERE org_id = ?1 AND key = ?2",
            role,
        )?;
        Ok(())
    }

    fn delete_custom_role(&self, org: &str, key: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM custom_roles WHERE org_id = ?1 AND key = ?2",
            [org, key],
        )?;
        Ok(())
    }

    fn get_custom_role(&self, org: &str, key: &str) -> Result<Option<CustomRole>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM custom_roles WHERE org_id = ?1 AND key = ?2");
        self.conn
            .query_row(&sql, [org, key], role_from_row)
            .optional()?
            .map(with_permissions)
            .transpose()
    }

    fn custom_role_named(&self, org: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT key FROM custom_roles WHERE org_id = ?1 AND name = ?2",
                [org, name],
                |row| row.get(0),
            )
            .optional()?)
    }

    fn list_custom_roles(&self, org: Option<&str>) -> Result<Vec<CustomRole>, StoreError> {
        let sql = match org {
            Some(_) => format!("SELECT {COLUMNS} FROM custom_roles WHERE org_id = ?1 ORDER BY key"),
            None => {
                format!("SELECT {COLUMNS} FROM custom_roles WHERE ?1 IS NULL ORDER BY org_id, key")
            }
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map([org], role_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(with_permissions).collect()
    }

    fn role_usage(&self, org: &str, key: &str) -> Result<RoleUsage, StoreError> {
        let members: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM org_members WHERE org_id = ?1 AND role = ?2",
            [org, key],
            |row| row.get(0),
        )?;
        let invites: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM invites
             WHERE org_id = ?1 AND role = ?2 AND status = 'pending' AND expires_at > ?3",
            params![org, key, self.now],
            |row| row.get(0),
        )?;
        Ok(RoleUsage {
            members: members.try_into().unwrap_or(0),
            pending_invites: invites.try_into().unwrap_or(0),
        })
    }
}

impl SqliteDb<'_> {
    /// Runs `sql` with the role's columns as ?1–?5 and the time as ?6.
    fn write_role(&self, sql: &str, role: &CustomRole) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            sql,
            params![
                role.org_id,
                role.key,
                role.name,
                role.description,
                permissions_json(&role.permissions)?,
                self.now
            ],
        )?)
    }
}
