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

#[cfg(test)]
mod tests {
    use super::super::compare::run_both;
    use super::*;
    use crate::model::{CustomRole, RoleKey, WorkspaceRole};

    /// The topics the scenario needs, and a way to add a custom role (a
    /// topic of its own, inlined as SQL on PostgreSQL).
    struct Dbs<'a> {
        orgs: &'a dyn OrgStore,
        workspaces: &'a dyn WorkspaceStore,
        access: &'a dyn AccessStore,
        add_role: &'a dyn Fn(&str, &str),
    }

    // Compared as they come: PostgreSQL orders each list by key, the order
    // SQLite's index scans give them in.
    fn answer(result: Result<Option<OrgAccess>, StoreError>) -> String {
        format!("{result:?}")
    }

    fn answer_all(result: Result<Vec<OrgAccess>, StoreError>) -> String {
        format!("{result:?}")
    }

    fn scenario(step: usize, db: Dbs<'_>) -> Vec<String> {
        let role = |key: &str| key.parse::<RoleKey>().unwrap();
        let mut out = Vec::new();
        match step {
            0 => {
                for user in ["u1", "u2", "u3", "u4"] {
                    db.orgs.record_user(user, "x@a.test").unwrap();
                }
                // Inserted out of id order: organizations come by id.
                for org in ["beta", "acme", "empty"] {
                    db.orgs.insert_org(org, org).unwrap();
                }
                (db.add_role)("acme", "tester");
                (db.add_role)("acme", "developer");
                for (user, key) in [("u3", "owner"), ("u1", "admin"), ("u2", "developer")] {
                    db.orgs
                        .insert_member("acme", user, &role(key), "m@acme.test")
                        .unwrap();
                }
                db.orgs
                    .insert_member("beta", "u4", &role("member"), "m@beta.test")
                    .unwrap();
                for (id, org) in [("w2", "acme"), ("w1", "acme"), ("wb", "beta")] {
                    db.workspaces.insert_workspace(id, org, id).unwrap();
                }
                db.workspaces
                    .set_workspace_member("w1", "acme", "u2", WorkspaceRole::Member)
                    .unwrap();
                db.workspaces
                    .set_workspace_member("w1", "acme", "u1", WorkspaceRole::Admin)
                    .unwrap();
                db.workspaces
                    .set_workspace_member("wb", "beta", "u4", WorkspaceRole::Admin)
                    .unwrap();
                out.push(answer(db.access.load_org_access("acme")));
                out.push(answer(db.access.load_org_access("beta")));
                // An organization without anything, and none at all.
                out.push(answer(db.access.load_org_access("empty")));
                out.push(answer(db.access.load_org_access("nope")));
                out.push(answer_all(db.access.load_all_access()));
            }
            1 => {
                db.orgs
                    .set_member_role("acme", "u3", &role("member"))
                    .unwrap();
                db.workspaces
                    .set_workspace_member("w1", "acme", "u2", WorkspaceRole::Admin)
                    .unwrap();
                db.orgs.delete_member("beta", "u4").unwrap();
                db.orgs.delete_org("empty").unwrap();
                out.push(answer(db.access.load_org_access("acme")));
                out.push(answer(db.access.load_org_access("beta")));
                out.push(answer(db.access.load_org_access("empty")));
                out.push(answer_all(db.access.load_all_access()));
            }
            _ => {}
        }
        out
    }

    fn custom_role(org: &str, key: &str) -> CustomRole {
        CustomRole {
            org_id: org.to_owned(),
            key: key.to_owned(),
            name: key.to_owned(),
            description: String::new(),
            permissions: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn access_answers_as_on_sqlite() {
        run_both(
            "access",
            2,
            |step, db| {
                let add_role = |org: &str, key: &str| {
                    assert!(db.insert_custom_role(&custom_role(org, key)).unwrap());
                };
                let dbs = Dbs {
                    orgs: db,
                    workspaces: db,
                    access: db,
                    add_role: &add_role,
                };
                scenario(step, dbs)
            },
            |step, db| {
                let add_role = |org: &str, key: &str| {
                    db.execute(
                        "INSERT INTO custom_roles
                         (org_id, key, name, description, permissions, created_at, updated_at)
                         VALUES ($1, $2, $2, '', '[]', $3, $3)",
                        &[&org, &key, &db.now_str()],
                    )
                    .unwrap();
                };
                let dbs = Dbs {
                    orgs: db,
                    workspaces: db,
                    access: db,
                    add_role: &add_role,
                };
                scenario(step, dbs)
            },
        );
    }
}
