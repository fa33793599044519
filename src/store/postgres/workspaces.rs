//! Workspaces and workspace memberships (the PostgreSQL port of
//! `sqlite/workspaces.rs`: the same answers, pages and errors).

use postgres::Row;

use super::super::{parse_column, split_page, StoreError};
use super::orgs::fetch_limit;
use super::PgDb;
use crate::model::{Workspace, WorkspaceMember, WorkspaceRole};
use crate::store::api::*;

fn workspace_from_row(row: &Row) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        name: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

/// A row of `user_id, email, role, added_at`.
fn member_from_row(row: &Row) -> Result<WorkspaceMember, StoreError> {
    Ok(WorkspaceMember {
        user_id: row.try_get(0)?,
        email: row.try_get(1)?,
        role: parse_column(row.try_get(2)?, "workspace role")?,
        added_at: row.try_get(3)?,
    })
}

impl WorkspaceStore for PgDb<'_> {
    fn insert_workspace(&self, id: &str, org: &str, name: &str) -> Result<bool, StoreError> {
        // A retired id is skipped by trigger: zero rows, as for a taken id.
        let n = self.execute(
            "INSERT INTO workspaces (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
            &[&id, &org, &name, &self.now_str()],
        )?;
        Ok(n == 1)
    }

    fn get_workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError> {
        self.query_opt(
            "SELECT id, org_id, name, created_at FROM workspaces WHERE id = $1",
            &[&id],
        )?
        .as_ref()
        .map(workspace_from_row)
        .transpose()
    }

    fn workspace_id_retired(&self, id: &str) -> Result<bool, StoreError> {
        self.retired("workspace", id)
    }

    fn delete_workspace(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM workspaces WHERE id = $1", &[&id])? == 1)
    }

    fn count_workspaces(&self, org: &str) -> Result<u64, StoreError> {
        let row = self.query_one("SELECT COUNT(*) FROM workspaces WHERE org_id = $1", &[&org])?;
        Ok(row.try_get::<_, i64>(0)?.try_into().unwrap_or(0))
    }

    fn list_workspaces(
        &self,
        org: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Workspace>, bool), StoreError> {
        // The cast gives the driver a type for a parameter that may be NULL.
        let rows = self.query(
            "SELECT id, org_id, name, created_at FROM workspaces
             WHERE org_id = $1 AND ($2::TEXT IS NULL OR id > $2) ORDER BY id LIMIT $3",
            &[&org, &after, &fetch_limit(limit)],
        )?;
        let items = rows
            .iter()
            .map(workspace_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(items, limit))
    }

    fn workspace_role(&self, ws: &str, user: &str) -> Result<Option<WorkspaceRole>, StoreError> {
        let row = self.query_opt(
            "SELECT role FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
            &[&ws, &user],
        )?;
        row.map(|row| parse_column(row.try_get(0)?, "workspace role"))
            .transpose()
    }

    fn set_workspace_member(
        &self,
        ws: &str,
        org: &str,
        user: &str,
        role: WorkspaceRole,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO workspace_members (workspace_id, org_id, user_id, role, added_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
            &[&ws, &org, &user, &role.as_str(), &self.now_str()],
        )?;
        Ok(())
    }

    fn get_workspace_member(
        &self,
        ws: &str,
        user: &str,
    ) -> Result<Option<WorkspaceMember>, StoreError> {
        self.query_opt(
            "SELECT w.user_id, m.email, w.role, w.added_at
             FROM workspace_members w
             JOIN org_members m ON m.org_id = w.org_id AND m.user_id = w.user_id
             WHERE w.workspace_id = $1 AND w.user_id = $2",
            &[&ws, &user],
        )?
        .as_ref()
        .map(member_from_row)
        .transpose()
    }

    fn delete_workspace_member(&self, ws: &str, user: &str) -> Result<bool, StoreError> {
        let n = self.execute(
            "DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2",
            &[&ws, &user],
        )?;
        Ok(n == 1)
    }

    fn list_workspace_members(
        &self,
        ws: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<WorkspaceMember>, bool), StoreError> {
        let rows = self.query(
            "SELECT w.user_id, m.email, w.role, w.added_at
             FROM workspace_members w
             JOIN org_members m ON m.org_id = w.org_id AND m.user_id = w.user_id
             WHERE w.workspace_id = $1 AND ($2::TEXT IS NULL OR w.user_id > $2)
             ORDER BY w.user_id LIMIT $3",
            &[&ws, &after, &fetch_limit(limit)],
        )?;
        let members = rows
            .iter()
            .map(member_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(members, limit))
    }
}
