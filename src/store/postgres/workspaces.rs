//! Workspaces and workspace memberships (the PostgreSQL port of
//! `sqlite/workspaces.rs`: the same answers, pages and errors).

use postgres::Row;

use super::super::{parse_column, split_page, StoreError};
use super::PgDb;
use crate::model::{Workspace, WorkspaceMember, WorkspaceRole};
use crate::store::api::*;
use crate::store::fetch_limit;

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

#[cfg(test)]
mod tests {
    use super::super::compare::{outcome, refused, run_both};
    use super::*;
    use crate::model::RoleKey;

    /// Every method of the topic; each step is one transaction (see
    /// `run_both`), and a step expecting a failure ends with it.
    fn scenario(step: usize, orgs: &dyn OrgStore, db: &dyn WorkspaceStore) -> Vec<String> {
        use WorkspaceRole::{Admin, Member};
        let mut out = Vec::new();
        let mut say = |answer: String| out.push(answer);
        match step {
            0 => {
                let member: RoleKey = "member".parse().unwrap();
                for user in ["u1", "u2", "u3", "u4"] {
                    orgs.record_user(user, "x@a.test").unwrap();
                }
                orgs.insert_org("acme", "Acme").unwrap();
                orgs.insert_org("beta", "Beta").unwrap();
                for user in ["u1", "u2", "u3"] {
                    orgs.insert_member("acme", user, &member, &format!("{user}@acme.test"))
                        .unwrap();
                }
                orgs.insert_member("beta", "u4", &member, "u4@beta.test")
                    .unwrap();
                // Inserted out of id order: lists still come by id.
                for id in ["w2", "w1", "w3"] {
                    say(outcome(db.insert_workspace(
                        id,
                        "acme",
                        &format!("WS {id}"),
                    )));
                }
                say(outcome(db.insert_workspace("wb", "beta", "Beta WS")));
                // Taken in the same organization, and in another one.
                say(outcome(db.insert_workspace("w1", "acme", "Again")));
                say(outcome(db.insert_workspace("w1", "beta", "Again")));
                say(outcome(db.get_workspace("w1")));
                say(outcome(db.get_workspace("nope")));
                say(outcome(db.workspace_id_retired("w1")));
                say(outcome(db.count_workspaces("acme")));
                say(outcome(db.count_workspaces("nope")));
                say(outcome(db.list_workspaces("acme", None, 2)));
                say(outcome(db.list_workspaces("acme", Some("w2"), 2)));
                say(outcome(db.list_workspaces("acme", None, 3)));
                say(outcome(db.list_workspaces("acme", None, 0)));
                say(outcome(db.list_workspaces("acme", Some("w3"), 2)));
                say(outcome(db.list_workspaces("nope", None, 2)));
                say(outcome(db.set_workspace_member("w1", "acme", "u2", Member)));
                say(outcome(db.set_workspace_member("w1", "acme", "u1", Admin)));
                say(outcome(db.set_workspace_member("w1", "acme", "u3", Member)));
                // Setting again changes the role, not the time it was added.
                say(outcome(db.set_workspace_member("w1", "acme", "u2", Admin)));
                say(outcome(db.workspace_role("w1", "u2")));
                say(outcome(db.workspace_role("w1", "nobody")));
                say(outcome(db.workspace_role("nope", "u1")));
                say(outcome(db.get_workspace_member("w1", "u1")));
                say(outcome(db.get_workspace_member("w1", "nobody")));
                say(outcome(db.list_workspace_members("w1", None, 2)));
                say(outcome(db.list_workspace_members("w1", Some("u2"), 2)));
                say(outcome(db.list_workspace_members("w1", None, 3)));
                say(outcome(db.list_workspace_members("w1", None, 0)));
                say(outcome(db.list_workspace_members("nope", None, 3)));
            }
            // Someone who is not a member of the organization.
            1 => say(refused(db.set_workspace_member("w1", "acme", "u4", Member))),
            // A workspace of an unknown organization.
            2 => say(refused(db.insert_workspace("wx", "nope", "X"))),
            3 => {
                say(outcome(db.delete_workspace_member("w1", "u3")));
                say(outcome(db.delete_workspace_member("w1", "u3")));
                // Leaving the organization leaves its workspaces.
                orgs.delete_member("acme", "u2").unwrap();
                say(outcome(db.list_workspace_members("w1", None, 10)));
                say(outcome(db.delete_workspace("w2")));
                say(outcome(db.delete_workspace("w2")));
                say(outcome(db.workspace_id_retired("w2")));
                say(outcome(db.insert_workspace("w2", "acme", "Again")));
                say(outcome(db.get_workspace("w2")));
                say(outcome(db.list_workspaces("acme", None, 10)));
                // Deleting an organization retires its workspace ids.
                orgs.delete_org("beta").unwrap();
                say(outcome(db.workspace_id_retired("wb")));
                say(outcome(db.get_workspace("wb")));
                say(outcome(db.count_workspaces("beta")));
            }
            _ => {}
        }
        out
    }

    #[test]
    fn workspaces_answer_as_on_sqlite() {
        run_both(
            "workspaces",
            4,
            |step, db| scenario(step, db, db),
            |step, db| scenario(step, db, db),
        );
    }

    /// The id triggers serve organizations and workspaces with one
    /// function each: a rename still works, an id change is refused.
    #[test]
    fn ids_never_change() {
        let Some(server) = super::super::testing::TestDatabase::create("fixed_ids") else {
            return;
        };
        let pg = super::super::PgStore::open(server.url()).unwrap();
        pg.write_untracked(|db| {
            db.insert_org("acme", "Acme")?;
            db.insert_org("beta", "Beta")?;
            db.insert_workspace("w1", "acme", "W")?;
            db.execute("UPDATE workspaces SET name = 'V' WHERE id = 'w1'", &[])?;
            assert!(db.rename_org("acme", "Acme Two")?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        for change in [
            "UPDATE organizations SET id = 'other' WHERE id = 'acme'",
            "UPDATE workspaces SET id = 'w9' WHERE id = 'w1'",
            "UPDATE workspaces SET org_id = 'beta' WHERE id = 'w1'",
        ] {
            let err = pg
                .write_untracked(|db| db.execute(change, &[]))
                .unwrap_err();
            let StoreError::Postgres(e) = &err else {
                panic!("{change}: {err}");
            };
            let message = e.as_db_error().map(|d| d.message());
            assert_eq!(message, Some("ids never change"), "{change}");
        }
    }
}
