//! Custom roles of organizations, and who holds them.

use postgres::Row;

use super::PgDb;
use crate::model::CustomRole;
use crate::store::api::{RoleStore, RoleUsage};
use crate::store::{permissions_json, with_permissions, StoreError};

const COLUMNS: &str = "org_id, key, name, description, permissions, created_at, updated_at";

fn role_from_row(row: &Row) -> Result<CustomRole, StoreError> {
    with_permissions((
        CustomRole {
            org_id: row.try_get(0)?,
            key: row.try_get(1)?,
            name: row.try_get(2)?,
            description: row.try_get(3)?,
            permissions: Vec::new(),
            created_at: row.try_get(5)?,
            updated_at: row.try_get(6)?,
        },
        row.try_get(4)?,
    ))
}

impl RoleStore for PgDb<'_> {
    fn insert_custom_role(&self, role: &CustomRole) -> Result<bool, StoreError> {
        let n = self.write_role(
            "INSERT INTO custom_roles (org_id, key, name, description, permissions, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (org_id, key) DO NOTHING",
            role,
        )?;
        Ok(n == 1)
    }

    fn update_custom_role(&self, role: &CustomRole) -> Result<(), StoreError> {
        self.write_role(
            "UPDATE custom_roles SET name = $3, description = $4, permissions = $5, updated_at = $6
             WHERE org_id = $1 AND key = $2",
            role,
        )?;
        Ok(())
    }

    fn delete_custom_role(&self, org: &str, key: &str) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM custom_roles WHERE org_id = $1 AND key = $2",
            &[&org, &key],
        )?;
        Ok(())
    }

    fn get_custom_role(&self, org: &str, key: &str) -> Result<Option<CustomRole>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM custom_roles WHERE org_id = $1 AND key = $2");
        self.query_opt(&sql, &[&org, &key])?
            .map(|row| role_from_row(&row))
            .transpose()
    }

    fn custom_role_named(&self, org: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .query_opt(
                "SELECT key FROM custom_roles WHERE org_id = $1 AND name = $2",
                &[&org, &name],
            )?
            .map(|row| row.try_get(0))
            .transpose()?)
    }

    fn list_custom_roles(&self, org: Option<&str>) -> Result<Vec<CustomRole>, StoreError> {
        let rows = match org {
            Some(org) => self.query(
                &format!("SELECT {COLUMNS} FROM custom_roles WHERE org_id = $1 ORDER BY key"),
                &[&org],
            )?,
            None => self.query(
                &format!("SELECT {COLUMNS} FROM custom_roles ORDER BY org_id, key"),
                &[],
            )?,
        };
        rows.iter().map(role_from_row).collect()
    }

    fn role_usage(&self, org: &str, key: &str) -> Result<RoleUsage, StoreError> {
        let members: i64 = self
            .query_one(
                "SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = $2",
                &[&org, &key],
            )?
            .try_get(0)?;
        let invites: i64 = self
            .query_one(
                "SELECT COUNT(*) FROM invites
                 WHERE org_id = $1 AND role = $2 AND status = 'pending' AND expires_at > $3",
                &[&org, &key, &self.now_str()],
            )?
            .try_get(0)?;
        Ok(RoleUsage {
            members: members.try_into().unwrap_or(0),
            pending_invites: invites.try_into().unwrap_or(0),
        })
    }
}

impl PgDb<'_> {
    /// Runs `sql` with the role's columns as $1–$5 and the time as $6.
    fn write_role(&self, sql: &str, role: &CustomRole) -> Result<u64, StoreError> {
        let permissions = permissions_json(&role.permissions)?;
        self.execute(
            sql,
            &[
                &role.org_id,
                &role.key,
                &role.name,
                &role.description,
                &permissions,
                &self.now_str(),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestDatabase;
    use super::super::PgStore;
    use crate::model::CustomRole;
    use crate::store::api::RoleStore;
    use crate::store::{Store, StoreError};

    fn role(key: &str, name: &str, permissions: &[&str]) -> CustomRole {
        CustomRole {
            org_id: "acme".into(),
            key: key.into(),
            name: name.into(),
            description: format!("the {key} role"),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    /// Every answer of the scenario, time stamps left out.
    fn scenario(db: &dyn RoleStore) -> Result<Vec<String>, StoreError> {
        let mut seen = Vec::new();
        let show = |r: Option<CustomRole>| {
            r.map(|r| {
                format!(
                    "{}/{}/{}/{}/{:?}",
                    r.org_id, r.key, r.name, r.description, r.permissions
                )
            })
        };
        seen.push(format!(
            "{}",
            db.insert_custom_role(&role("dev", "Dev", &["b", "a"]))?
        ));
        seen.push(format!(
            "{}",
            db.insert_custom_role(&role("dev", "Other", &[]))?
        ));
        seen.push(format!(
            "{}",
            db.insert_custom_role(&role("fin", "Finance", &["billing.read"]))?
        ));
        seen.push(format!("{:?}", show(db.get_custom_role("acme", "dev")?)));
        seen.push(format!("{:?}", show(db.get_custom_role("acme", "none")?)));
        seen.push(format!("{:?}", db.custom_role_named("acme", "Finance")?));
        seen.push(format!("{:?}", db.custom_role_named("acme", "finance")?));
        db.update_custom_role(&role("dev", "Developers", &["x"]))?;
        let all: Vec<_> = db
            .list_custom_roles(None)?
            .into_iter()
            .map(Some)
            .map(show)
            .collect();
        seen.push(format!("{all:?}"));
        let one: Vec<_> = db
            .list_custom_roles(Some("acme"))?
            .into_iter()
            .map(Some)
            .map(show)
            .collect();
        seen.push(format!("{one:?}"));
        seen.push(format!("{:?}", db.role_usage("acme", "dev")?));
        db.delete_custom_role("acme", "dev")?;
        seen.push(format!("{:?}", show(db.get_custom_role("acme", "dev")?)));
        seen.push(format!("{}", db.list_custom_roles(None)?.len()));
        Ok(seen)
    }

    const ORGS: &str = "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('acme', 'Acme', 't', 't')";

    #[test]
    fn roles_read_the_same_on_both_backends() {
        let Some(pg_db) = TestDatabase::create("roles") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let expected = sqlite
            .write(|db| {
                db.insert_org("acme", "Acme")?;
                scenario(db)
            })
            .unwrap()
            .0;
        let pg = PgStore::open(pg_db.url()).unwrap();
        let got = pg
            .write(|db| {
                db.execute(ORGS, &[])?;
                scenario(db)
            })
            .unwrap()
            .0;
        assert_eq!(got, expected);
        assert!(
            expected.iter().any(|s| s.contains("Developers")),
            "{expected:?}"
        );
        // A second role with a taken name violates a constraint on both.
        let dup = |db: &dyn RoleStore| db.insert_custom_role(&role("fin2", "Finance", &[]));
        let e = sqlite.write(|db| dup(db)).unwrap_err();
        assert!(e.is_constraint(), "{e}");
        let e = pg.write(|db| dup(db)).unwrap_err();
        assert!(e.is_constraint(), "{e}");
    }
}
