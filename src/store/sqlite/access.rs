//! Reading the role assignments that decisions are made from.

use std::collections::BTreeMap;

use super::{parse_column, SqliteDb, StoreError};
use crate::model::{OrgAccess, WorkspaceAccess};
use crate::store::api::*;

impl AccessStore for SqliteDb<'_> {
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

impl SqliteDb<'_> {
    /// `only` restricts to one organization. Each query comes in two forms:
    /// `x IS NULL OR col = x` would defeat the indexes and scan every row.
    fn load_access(&self, only: Option<&str>) -> Result<Vec<OrgAccess>, StoreError> {
        let filtered = |sql: &str, column: &str| match only {
            Some(_) => format!("{sql} WHERE {column} = ?1"),
            None => format!("{sql} WHERE ?1 IS NULL"),
        };
        let mut orgs: BTreeMap<String, OrgAccess> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(&filtered("SELECT id FROM organizations", "id"))?;
        for id in stmt.query_map([only], |row| row.get::<_, String>(0))? {
            let id = id?;
            orgs.insert(
                id.clone(),
                OrgAccess {
                    org_id: id,
                    ..OrgAccess::default()
                },
            );
        }

        let mut stmt = self.conn.prepare_cached(&filtered(
            "SELECT org_id, user_id, role FROM org_members",
            "org_id",
        ))?;
        let mut rows = stmt.query([only])?;
        while let Some(row) = rows.next()? {
            let org: String = row.get(0)?;
            let role = parse_column(row.get::<_, String>(2)?, "role")?;
            if let Some(access) = orgs.get_mut(&org) {
                access.members.push((row.get(1)?, role));
            }
        }

        let mut stmt = self
            .conn
            .prepare_cached(&filtered("SELECT org_id, key FROM custom_roles", "org_id"))?;
        let mut rows = stmt.query([only])?;
        while let Some(row) = rows.next()? {
            let org: String = row.get(0)?;
            if let Some(access) = orgs.get_mut(&org) {
                access.custom_roles.push(row.get(1)?);
            }
        }

        let mut workspaces: BTreeMap<String, (String, WorkspaceAccess)> = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(&filtered("SELECT id, org_id FROM workspaces", "org_id"))?;
        for row in stmt.query_map([only], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })? {
            let (id, org) = row?;
            let access = WorkspaceAccess {
                workspace_id: id.clone(),
                members: Vec::new(),
            };
            workspaces.insert(id, (org, access));
        }
        let mut stmt = self.conn.prepare_cached(&filtered(
            "SELECT workspace_id, user_id, role FROM workspace_members",
            "org_id",
        ))?;
        let mut rows = stmt.query([only])?;
        while let Some(row) = rows.next()? {
            let ws: String = row.get(0)?;
            let role = parse_column(row.get::<_, String>(2)?, "workspace role")?;
            if let Some((_, access)) = workspaces.get_mut(&ws) {
                access.members.push((row.get(1)?, role));
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
