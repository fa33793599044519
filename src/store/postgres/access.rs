//! Reading the role assignments that decisions are made from (the
//! PostgreSQL port of `sqlite/access.rs`).

use std::collections::BTreeMap;

use super::super::{parse_column, StoreError};
use super::PgDb;
use crate::model::{OrgAccess, WorkspaceAccess};
use crate::store::api::*;

impl AccessStore for PgDb<'_> {
    fn load_org_access(&self, org: &str) -> Result<Option<OrgAccess>, StoreError> {
        if !self.org_exists(org)? {
            return Ok(None);
        }
        let mut access = self.load_access(Some(org))?;
        Ok(Some(access.pop().unwrap_or_else(|| OrgAccess {
            org_id: org.to_owned(),
            ..OrgAccess::default()
        })))
    }

    fn load_all_access(&self) -> Result<Vec<OrgAccess>, StoreError> {
        self.load_access(None)
    }
}

impl PgDb<'_> {
    /// `only` restricts to one organization. Each query comes in two forms:
    /// `x IS NULL OR col = x` would defeat the indexes and scan every row.
    /// Rows are ordered by key so that lists inside an organization come in
    /// the same order whichever backend and plan: PostgreSQL moves updated
    /// rows, so its scan order is not the insertion order SQLite keeps.
    fn load_access(&self, only: Option<&str>) -> Result<Vec<OrgAccess>, StoreError> {
        let filtered = |sql: &str, column: &str, order: &str| match only {
            Some(_) => format!("{sql} WHERE {column} = $1 ORDER BY {order}"),
            None => format!("{sql} WHERE $1::TEXT IS NULL ORDER BY {order}"),
        };
        let mut orgs: BTreeMap<String, OrgAccess> = BTreeMap::new();
        for row in self.query(
            &filtered("SELECT id FROM organizations", "id", "id"),
            &[&only],
        )? {
            let id: String = row.try_get(0)?;
            orgs.insert(
                id.clone(),
                OrgAccess {
                    org_id: id,
                    ..OrgAccess::default()
                },
            );
        }

        let sql = filtered(
            "SELECT org_id, user_id, role FROM org_members",
            "org_id",
            "org_id, user_id",
        );
        for row in self.query(&sql, &[&only])? {
            let org: String = row.try_get(0)?;
            let role = parse_column(row.try_get(2)?, "role")?;
            if let Some(access) = orgs.get_mut(&org) {
                access.members.push((row.try_get(1)?, role));
            }
        }

        let sql = filtered(
            "SELECT org_id, key FROM custom_roles",
            "org_id",
            "org_id, key",
        );
        for row in self.query(&sql, &[&only])? {
            let org: String = row.try_get(0)?;
            if let Some(access) = orgs.get_mut(&org) {
                access.custom_roles.push(row.try_get(1)?);
            }
        }

        let mut workspaces: BTreeMap<String, (String, WorkspaceAccess)> = BTreeMap::new();
        let sql = filtered("SELECT id, org_id FROM workspaces", "org_id", "id");
        for row in self.query(&sql, &[&only])? {
            let id: String = row.try_get(0)?;
            let access = WorkspaceAccess {
                workspace_id: id.clone(),
                members: Vec::new(),
            };
            workspaces.insert(id, (row.try_get(1)?, access));
        }
        let sql = filtered(
            "SELECT workspace_id, user_id, role FROM workspace_members",
            "org_id",
            "workspace_id, user_id",
        );
        for row in self.query(&sql, &[&only])? {
            let ws: String = row.try_get(0)?;
            let role = parse_column(row.try_get(2)?, "workspace role")?;
            if let Some((_, access)) = workspaces.get_mut(&ws) {
                access.members.push((row.try_get(1)?, role));
            }
        }
        for (_, (org, access)) in workspaces {
            if let Some(org_access) = orgs.get_mut(&org) {
                org_access.workspaces.push(access);
            }
        }
        Ok(orgs.into_values().collect())
    }
}
