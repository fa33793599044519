//! Organizations, users and organization memberships.

use crate::store::fetch_limit;
use rusqlite::{params, OptionalExtension};

use super::{parse_column, split_page, SqliteDb, StoreError};
use crate::model::{Member, Org, RoleKey, UserOrg};
use crate::store::api::*;

const ORG_COLUMNS: &str = "o.id, o.name, o.created_at, \
     (SELECT COUNT(*) FROM org_members m WHERE m.org_id = o.id)";

fn org_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
        member_count: row.get::<_, i64>(3)?.try_into().unwrap_or(0),
    })
}

impl OrgStore for SqliteDb<'_> {
    fn insert_org(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.conn.prepare_cached(
            "INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![id, name, self.now])?;
        Ok(n == 1)
    }

    fn get_org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = ?1");
        Ok(self.conn.query_row(&sql, [id], org_from_row).optional()?)
    }

    fn org_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM organizations WHERE id = ?1",
                [id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn org_id_retired(&self, id: &str) -> Result<bool, StoreError> {
        self.retired("org", id)
    }

    fn rename_org(&self, id: &str, name: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE organizations SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, name, self.now],
        )?;
        Ok(n == 1)
    }

    fn delete_org(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM organizations WHERE id = ?1", [id])?
            == 1)
    }

    fn record_user(&self, id: &str, email: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO users (id, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![id, email, self.now])?;
        Ok(())
    }

    fn member_role(&self, org: &str, user: &str) -> Result<Option<RoleKey>, StoreError> {
        let role: Option<String> = self
            .conn
            .query_row(
                "SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?2",
                [org, user],
                |row| row.get(0),
            )
            .optional()?;
        role.map(|r| parse_column(r, "role")).transpose()
    }

    fn count_owners(&self, org: &str) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM org_members WHERE org_id = ?1 AND role = 'owner'",
            [org],
            |row| row.get(0),
        )?;
        Ok(n.try_into().unwrap_or(0))
    }

    fn insert_member(
        &self,
        org: &str,
        user: &str,
        role: &RoleKey,
        email: &str,
    ) -> Result<(), StoreError> {
        self.conn.prepare_cached(
            "INSERT INTO org_members (org_id, user_id, role, joined_at, email) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![org, user, role.as_str(), self.now, email])?;
        Ok(())
    }

    fn set_member_role(&self, org: &str, user: &str, role: &RoleKey) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE org_members SET role = ?3 WHERE org_id = ?1 AND user_id = ?2",
            params![org, user, role.as_str()],
        )?;
        Ok(n == 1)
    }

    fn delete_member(&self, org: &str, user: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2",
            [org, user],
        )?;
        Ok(n == 1)
    }

    fn get_member(&self, org: &str, user: &str) -> Result<Option<Member>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT m.user_id, m.email, m.role, m.joined_at
                 FROM org_members m WHERE m.org_id = ?1 AND m.user_id = ?2",
                [org, user],
                member_columns,
            )
            .optional()?;
        row.map(member_from_columns).transpose()
    }

    fn list_members(
        &self,
        org: &str,
        role: Option<&RoleKey>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Member>, bool), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.user_id, m.email, m.role, m.joined_at
             FROM org_members m
             WHERE m.org_id = ?1 AND (?2 IS NULL OR m.role = ?2) AND (?3 IS NULL OR m.user_id > ?3)
             ORDER BY m.user_id LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(
                params![org, role.map(RoleKey::as_str), after, fetch_limit(limit)],
                member_columns,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let members = rows
            .into_iter()
            .map(member_from_columns)
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
             WHERE m.user_id = ?1 AND (?2 IS NULL OR m.org_id > ?2)
             ORDER BY m.org_id LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![user, after, fetch_limit(limit)], |row| {
                Ok((org_from_row(row)?, row.get::<_, String>(4)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let items = rows
            .into_iter()
            .map(|(org, role)| {
                Ok(UserOrg {
                    org,
                    role: parse_column(role, "role")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(split_page(items, limit))
    }
}

impl SqliteDb<'_> {
    pub(super) fn retired(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM retired_ids WHERE kind = ?1 AND id = ?2")?
            .query_row([kind, id], |_| Ok(()))
            .optional()?
            .is_some())
    }
}

type MemberColumns = (String, String, String, String);

fn member_columns(row: &rusqlite::Row<'_>) -> rusqlite::Result<MemberColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn member_from_columns(
    (user_id, email, role, joined_at): MemberColumns,
) -> Result<Member, StoreError> {
    Ok(Member {
        user_id,
        email,
        role: parse_column(role, "role")?,
        joined_at,
    })
}
