//! Organizations, users and organization memberships (the PostgreSQL port
//! of `sqlite/orgs.rs`: the same answers, pages and errors).

use crate::store::fetch_limit;
use postgres::Row;

use super::super::{parse_column, split_page, StoreError};
use super::PgDb;
use crate::model::{Member, Org, RoleKey, UserOrg};
use crate::store::api::*;

const ORG_COLUMNS: &str = "o.id, o.name, o.created_at, \
     (SELECT COUNT(*) FROM org_members m WHERE m.org_id = o.id)";

fn org_from_row(row: &Row) -> Result<Org, StoreError> {
    Ok(Org {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
        member_count: row.try_get::<_, i64>(3)?.try_into().unwrap_or(0),
    })
}

impl OrgStore for PgDb<'_> {
    fn insert_org(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        // A retired id is skipped by trigger: zero rows, as for a taken id.
        let n = self.execute(
            "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (id) DO NOTHING",
            &[&id, &name, &self.now_str()],
        )?;
        Ok(n == 1)
    }

    fn get_org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1");
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    fn org_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_opt("SELECT 1 FROM organizations WHERE id = $1", &[&id])?
            .is_some())
    }

    fn org_id_retired(&self, id: &str) -> Result<bool, StoreError> {
        self.retired("org", id)
    }

    fn rename_org(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE organizations SET name = $2, updated_at = $3 WHERE id = $1",
            &[&id, &name, &self.now_str()],
        )?;
        Ok(n == 1)
    }

    fn delete_org(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM organizations WHERE id = $1", &[&id])? == 1)
    }

    fn record_user(&self, id: &str, email: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO users (id, email, created_at, updated_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT (id) DO NOTHING",
            &[&id, &email, &self.now_str()],
        )?;
        Ok(())
    }

    fn member_role(&self, org: &str, user: &str) -> Result<Option<RoleKey>, StoreError> {
        let row = self.query_opt(
            "SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org, &user],
        )?;
        row.map(|row| parse_column(row.try_get(0)?, "role"))
            .transpose()
    }

    fn count_owners(&self, org: &str) -> Result<u64, StoreError> {
        let row = self.query_one(
            "SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'owner'",
            &[&org],
        )?;
        Ok(row.try_get::<_, i64>(0)?.try_into().unwrap_or(0))
    }

    fn insert_member(
        &self,
        org: &str,
        user: &str,
        role: &RoleKey,
        email: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO org_members (org_id, user_id, role, joined_at, email)
             VALUES ($1, $2, $3, $4, $5)",
            &[&org, &user, &role.as_str(), &self.now_str(), &email],
        )?;
        Ok(())
    }

    fn set_member_role(&self, org: &str, user: &str, role: &RoleKey) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE org_members SET role = $3 WHERE org_id = $1 AND user_id = $2",
            &[&org, &user, &role.as_str()],
        )?;
        Ok(n == 1)
    }

    fn delete_member(&self, org: &str, user: &str) -> Result<bool, StoreError> {
        let n = self.execute(
            "DELETE FROM org_members WHERE org_id = $1 AND user_id = $2",
            &[&org, &user],
        )?;
        Ok(n == 1)
    }

    fn get_member(&self, org: &str, user: &str) -> Result<Option<Member>, StoreError> {
        self.query_opt(
            "SELECT m.user_id, m.email, m.role, m.joined_at
             FROM org_members m WHERE m.org_id = $1 AND m.user_id = $2",
            &[&org, &user],
        )?
        .as_ref()
        .map(member_from_row)
        .transpose()
    }

    fn list_members(
        &self,
        org: &str,
        role: Option<&RoleKey>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Member>, bool), StoreError> {
        // The casts give the driver a type for parameters that may be NULL.
        let rows = self.query(
            "SELECT m.user_id, m.email, m.role, m.joined_at
             FROM org_members m
             WHERE m.org_id = $1 AND ($2::TEXT IS NULL OR m.role = $2)
               AND ($3::TEXT IS NULL OR m.user_id > $3)
             ORDER BY m.user_id LIMIT $4",
            &[
                &org,
                &role.map(RoleKey::as_str),
                &after,
                &fetch_limit(limit),
            ],
        )?;
        let members = rows
            .iter()
            .map(member_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(split_page(members, limit))
    }

    fn user_orgs(
        &self,
        user: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UserOrg>, bool), StoreError> {
        let sql = format!(
            "SELECT {ORG_COLUMNS}, m.role FROM org_members m JOIN organizations o ON o.id = m.org_id
             WHERE m.user_id = $1 AND ($2::TEXT IS NULL OR m.org_id > $2)
             ORDER BY m.org_id LIMIT $3"
        );
        let rows = self.query(&sql, &[&user, &after, &fetch_limit(limit)])?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(UserOrg {
                    org: org_from_row(row)?,
                    role: parse_column(row.try_get(4)?, "role")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(split_page(items, limit))
    }
}

impl PgDb<'_> {
    /// Whether an id of `kind` (`org`, `workspace`) was retired; shared with
    /// the workspace topic.
    pub(super) fn retired(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM retired_ids WHERE kind = $1 AND id = $2",
                &[&kind, &id],
            )?
            .is_some())
    }
}

fn member_from_row(row: &Row) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: row.try_get(0)?,
        email: row.try_get(1)?,
        role: parse_column(row.try_get(2)?, "role")?,
        joined_at: row.try_get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::compare::{outcome, refused, run_both};
    use super::super::testing::TestDatabase;
    use super::super::PgStore;
    use super::*;

    fn role(key: &str) -> RoleKey {
        key.parse().unwrap()
    }

    /// Every method of the topic; each step is one transaction (see
    /// `run_both`), and a step expecting a failure ends with it.
    fn scenario(step: usize, db: &dyn OrgStore) -> Vec<String> {
        let mut out = Vec::new();
        let mut say = |answer: String| out.push(answer);
        match step {
            0 => {
                for user in ["u1", "u2", "u3", "u4", "u5"] {
                    say(outcome(db.record_user(user, &format!("{user}@a.test"))));
                }
                // A known user is left as is.
                say(outcome(db.record_user("u1", "other@a.test")));
                say(outcome(db.insert_org("acme", "Acme")));
                say(outcome(db.insert_org("acme", "Taken")));
                say(outcome(db.insert_org("beta", "Beta")));
                say(outcome(db.insert_org("gamma", "Gamma")));
                say(outcome(db.get_org("acme")));
                say(outcome(db.get_org("nope")));
                say(outcome(db.org_exists("acme")));
                say(outcome(db.org_exists("nope")));
                say(outcome(db.org_id_retired("acme")));
                say(outcome(db.rename_org("acme", "Acme Two")));
                say(outcome(db.rename_org("nope", "X")));
                // Inserted out of id order: lists still come by id.
                for (user, key) in [
                    ("u3", "owner"),
                    ("u1", "admin"),
                    ("u5", "owner"),
                    ("u2", "member"),
                    ("u4", "developer"),
                ] {
                    say(outcome(db.insert_member(
                        "acme",
                        user,
                        &role(key),
                        &format!("{user}@acme.test"),
                    )));
                }
                say(outcome(db.insert_member(
                    "gamma",
                    "u1",
                    &role("owner"),
                    "g@a.test",
                )));
                say(outcome(db.insert_member(
                    "beta",
                    "u1",
                    &role("member"),
                    "b@a.test",
                )));
                say(outcome(db.get_org("acme")));
                say(outcome(db.member_role("acme", "u4")));
                say(outcome(db.member_role("acme", "nobody")));
                say(outcome(db.count_owners("acme")));
                say(outcome(db.count_owners("nope")));
                say(outcome(db.get_member("acme", "u1")));
                say(outcome(db.get_member("acme", "nobody")));
            }
            1 => {
                // Pages: limit + 1 rows fetched, cursors exclusive.
                say(outcome(db.list_members("acme", None, None, 2)));
                say(outcome(db.list_members("acme", None, Some("u2"), 2)));
                say(outcome(db.list_members("acme", None, Some("u4"), 2)));
                say(outcome(db.list_members("acme", None, None, 5)));
                say(outcome(db.list_members("acme", None, None, 0)));
                say(outcome(db.list_members("acme", None, Some("u5"), 2)));
                say(outcome(db.list_members(
                    "acme",
                    Some(&role("owner")),
                    None,
                    1,
                )));
                say(outcome(db.list_members(
                    "acme",
                    Some(&role("owner")),
                    Some("u3"),
                    1,
                )));
                say(outcome(db.list_members(
                    "acme",
                    Some(&role("developer")),
                    None,
                    10,
                )));
                say(outcome(db.list_members("nope", None, None, 10)));
                say(outcome(db.user_orgs("u1", None, 2)));
                say(outcome(db.user_orgs("u1", Some("beta"), 2)));
                say(outcome(db.user_orgs("u1", None, 3)));
                say(outcome(db.user_orgs("nobody", None, 3)));
            }
            2 => {
                say(outcome(db.set_member_role("acme", "u2", &role("admin"))));
                say(outcome(db.set_member_role(
                    "acme",
                    "nobody",
                    &role("admin"),
                )));
                say(outcome(db.delete_member("acme", "u5")));
                say(outcome(db.delete_member("acme", "u5")));
                say(outcome(db.get_member("acme", "u2")));
                say(outcome(db.count_owners("acme")));
                say(outcome(db.list_members("acme", None, None, 10)));
            }
            // A duplicate membership.
            3 => say(refused(db.insert_member(
                "acme",
                "u1",
                &role("member"),
                "x@a.test",
            ))),
            // A membership of an unknown user, of an unknown organization.
            4 => say(refused(db.insert_member(
                "acme",
                "ghost",
                &role("member"),
                "x@a.test",
            ))),
            5 => say(refused(db.insert_member(
                "nope",
                "u1",
                &role("member"),
                "x@a.test",
            ))),
            6 => {
                say(outcome(db.delete_org("beta")));
                say(outcome(db.delete_org("beta")));
                say(outcome(db.org_id_retired("beta")));
                // A retired id is never given again.
                say(outcome(db.insert_org("beta", "Beta again")));
                say(outcome(db.get_org("beta")));
                say(outcome(db.member_role("beta", "u1")));
                say(outcome(db.user_orgs("u1", None, 10)));
                say(outcome(db.get_org("acme")));
            }
            _ => {}
        }
        out
    }

    #[test]
    fn orgs_answer_as_on_sqlite() {
        run_both(
            "orgs",
            7,
            |step, db| scenario(step, db),
            |step, db| scenario(step, db),
        );
    }

    #[test]
    fn a_bad_stored_role_is_corrupt_data() {
        let Some(server) = TestDatabase::create("orgs_corrupt") else {
            return;
        };
        let pg = PgStore::open(server.url()).unwrap();
        pg.write_untracked(|db| {
            db.record_user("u1", "u1@a.test")?;
            db.insert_org("acme", "Acme")?;
            db.execute(
                "INSERT INTO org_members (org_id, user_id, role, joined_at, email)
                 VALUES ('acme', 'u1', 'Not A Role', 'then', 'u1@a.test')",
                &[],
            )?;
            for err in [
                db.member_role("acme", "u1").unwrap_err(),
                db.get_member("acme", "u1").unwrap_err(),
                db.list_members("acme", None, None, 5).unwrap_err(),
                db.user_orgs("u1", None, 5).unwrap_err(),
            ] {
                assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }
}
