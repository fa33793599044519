//! Workspaces and workspace memberships.

use rusqlite::{params, OptionalExtension};

use super::{parse_column, split_page, SqliteDb, StoreError};
use crate::model::{Workspace, WorkspaceMember, WorkspaceRole};
use crate::store::api::*;
use crate::store::fetch_limit;

fn workspace_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace {
        id: row.get(0)?,
        org_id: row.get(1)?,
        name: row.get(2)?,
        created_at: row.get(3)?,
    })
}

impl WorkspaceStore for SqliteDb<'_> {
    fn insert_workspace(&self, id: &str, org: &str, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO workspaces (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![id, org, name, self.now])?;
        Ok(n == 1)
    }

    fn get_workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, org_id, name, created_at FROM workspaces WHERE id = ?1",
                [id],
                workspace_from_row,
            )
            .optional()?)
    }

    fn workspace_id_retired(&self, id: &str) -> Result<bool, StoreError> {
        self.retired("workspace", id)
    }

    fn delete_workspace(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM workspaces WHERE id = ?1", [id])?
            == 1)
    }

    fn count_workspaces(&self, org: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM workspaces WHERE org_id = ?1",
            [org],
            |row| row.get(0),
        )?;
        Ok(n.try_into().unwrap_or(0))
    }

    fn list_workspaces(
        &self,
        org: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Workspace>, bool), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, org_id, name, created_at FROM workspaces
             WHERE org_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![org, after, fetch_limit(limit)], workspace_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(rows, limit))
    }

    fn workspace_role(&self, ws: &str, user: &str) -> Result<Option<WorkspaceRole>, StoreError> {
        let role: Option<String> = self
            .conn
            .query_row(
                "SELECT role FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2",
                [ws, user],
                |row| row.get(0),
            )
            .optional()?;
        role.map(|r| parse_column(r, "workspace role")).transpose()
    }

    fn set_workspace_member(
        &self,
        ws: &str,
        org: &str,
        user: &str,
        role: WorkspaceRole,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO workspace_members (workspace_id, org_id, user_id, role, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
            )?
            .execute(params![ws, org, user, role.as_str(), self.now])?;
        Ok(())
    }

    fn get_workspace_member(
        &self,
        ws: &str,
        user: &str,
    ) -> Result<Option<WorkspaceMember>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT w.user_id, m.email, w.role, w.added_at
                 FROM workspace_members w
                 JOIN org_members m ON m.org_id = w.org_id AND m.user_id = w.user_id
                 WHERE w.workspace_id = ?1 AND w.user_id = ?2",
                [ws, user],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(user_id, email, role, added_at)| {
            Ok(WorkspaceMember {
                user_id,
                email,
                role: parse_column(role, "workspace role")?,
                added_at,
            })
        })
        .transpose()
    }

    fn delete_workspace_member(&self, ws: &str, user: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2",
            [ws, user],
        )?;
        Ok(n == 1)
    }

    fn list_workspace_members(
        &self,
        ws: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<WorkspaceMember>, bool), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT w.user_id, m.email, w.role, w.added_at
             FROM workspace_members w
             JOIN org_members m ON m.org_id = w.org_id AND m.user_id = w.user_id
             WHERE w.workspace_id = ?1 AND (?2 IS NULL OR w.user_id > ?2)
             ORDER BY w.user_id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![ws, after, fetch_limit(limit)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let members = rows
            .into_iter()
            .map(|(user_id, email, role, added_at)| {
                Ok(WorkspaceMember {
                    user_id,
                    email,
                    role: parse_column(role, "workspace role")?,
                    added_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(split_page(members, limit))
    }
}
