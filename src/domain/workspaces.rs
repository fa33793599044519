//! Workspaces of an organization and their members. Only organization
//! members can hold a workspace role.

use serde_json::json;

use super::{
    check_id, check_name, check_user_id, page, Actor, Change, DomainError, Paging, Tenancy,
    MAX_WORKSPACES_PER_ORG,
};
use crate::authz::Target;
use crate::model::{self, Page, Workspace, WorkspaceMember, WorkspaceRole};

impl Tenancy {
    pub async fn create_workspace(
        &self,
        actor: Actor,
        org: String,
        id: Option<String>,
        name: String,
    ) -> Result<Workspace, DomainError> {
        let id = id.unwrap_or_else(|| model::new_id("ws"));
        check_id("workspace id", &id)?;
        let name = check_name(&name)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                c.require_org(&org)?;
                c.authorize(&actor, "workspace.create", Target::Org(&org), &[])?;
                if c.db.count_workspaces(&org)? >= MAX_WORKSPACES_PER_ORG {
                    return Err(DomainError::Invalid(format!(
                        "organization `{org}` already has the maximum of {MAX_WORKSPACES_PER_ORG} workspaces"
                    )));
                }
                if !c.db.insert_workspace(&id, &org, &name)? {
                    return Err(DomainError::AlreadyExists(if c.db.workspace_id_retired(&id)? {
                        format!("workspace id `{id}` belonged to a deleted workspace and is never reused")
                    } else {
                        format!("workspace `{id}` already exists")
                    }));
                }
                c.audit(&org, &actor, "workspace.create", &ws_target(&id), json!({"name": name}))?;
                fetch_workspace(c, &org, &id)
            })
        })
        .await
    }

    pub async fn get_workspace(
        &self,
        actor: Actor,
        org: String,
        ws: String,
    ) -> Result<Workspace, DomainError> {
        self.run(move |inner| {
            let workspace = inner
                .store
                .read(|db| db.get_workspace(&ws))?
                .filter(|w| w.org_id == org)
                .ok_or_else(|| DomainError::NotFound(format!("workspace `{ws}` of `{org}`")))?;
            inner.authorize_read(&actor, "workspace.read", Target::Workspace(&ws))?;
            Ok(workspace)
        })
        .await
    }

    /// The workspaces of `org` the actor may `workspace.read`.
    pub async fn list_workspaces(
        &self,
        actor: Actor,
        org: String,
        paging: Paging,
    ) -> Result<Page<Workspace>, DomainError> {
        let limit = paging.limit()?;
        let mut after = paging.after()?;
        self.run(move |inner| {
            inner.require_org_read(&org)?;
            let snapshot = inner.snapshot.load();
            let mut items = Vec::with_capacity(limit);
            // Fetch pages until `limit` readable workspaces are found or the
            // list ends; the bound on workspaces per org bounds the loop.
            loop {
                let (rows, more) = inner
                    .store
                    .read(|db| db.list_workspaces(&org, after.as_deref(), limit))?;
                after = rows.last().map(|w| w.id.clone());
                for ws in rows {
                    if items.len() == limit {
                        return Ok(page((items, true), |w: &Workspace| w.id.clone()));
                    }
                    let readable = inner
                        .authorize(
                            &snapshot,
                            &actor,
                            "workspace.read",
                            Target::Workspace(&ws.id),
                            &[],
                        )
                        .is_ok();
                    if readable {
                        items.push(ws);
                    }
                }
                if !more {
                    return Ok(page((items, false), |w: &Workspace| w.id.clone()));
                }
            }
        })
        .await
    }

    pub async fn delete_workspace(
        &self,
        actor: Actor,
        org: String,
        ws: String,
    ) -> Result<(), DomainError> {
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                let workspace = fetch_workspace(c, &org, &ws)?;
                c.authorize(&actor, "workspace.delete", Target::Workspace(&ws), &[])?;
                c.db.delete_workspace(&ws)?;
                c.audit(
                    &org,
                    &actor,
                    "workspace.delete",
                    &ws_target(&ws),
                    json!({"name": workspace.name}),
                )?;
                Ok(())
            })
        })
        .await
    }

    pub async fn list_workspace_members(
        &self,
        actor: Actor,
        org: String,
        ws: String,
        paging: Paging,
    ) -> Result<Page<WorkspaceMember>, DomainError> {
        let limit = paging.limit()?;
        let after = paging.after()?;
        self.run(move |inner| {
            inner
                .store
                .read(|db| db.get_workspace(&ws))?
                .filter(|w| w.org_id == org)
                .ok_or_else(|| DomainError::NotFound(format!("workspace `{ws}` of `{org}`")))?;
            inner.authorize_read(&actor, "workspace.read", Target::Workspace(&ws))?;
            let rows = inner
                .store
                .read(|db| db.list_workspace_members(&ws, after.as_deref(), limit))?;
            Ok(page(rows, |m| m.user_id.clone()))
        })
        .await
    }

    /// Gives `user` a role in the workspace (adding or changing it).
    pub async fn set_workspace_member(
        &self,
        actor: Actor,
        org: String,
        ws: String,
        user: String,
        role: String,
    ) -> Result<WorkspaceMember, DomainError> {
        check_user_id("user id", &user)?;
        let role: WorkspaceRole = role.parse().map_err(|e: model::UnknownRole| {
            DomainError::Invalid(format!("{e}: expected admin or member"))
        })?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                fetch_workspace(c, &org, &ws)?;
                c.authorize(&actor, "workspace.manage_members", Target::Workspace(&ws), &[("role", role.as_str())])?;
                if c.db.member_role(&org, &user)?.is_none() {
                    return Err(DomainError::NotAMember(format!(
                        "user `{user}` is not a member of `{org}`; add them to the organization first"
                    )));
                }
                let previous = c.db.workspace_role(&ws, &user)?;
                if previous != Some(role) {
                    c.db.set_workspace_member(&ws, &org, &user, role)?;
                    c.audit(&org, &actor, "workspace.member_set", &format!("User::{user}"),
                        json!({"workspace": ws, "role": role, "previous_role": previous}))?;
                }
                c.db.get_workspace_member(&ws, &user)?
                    .ok_or_else(|| DomainError::NotFound(format!("member `{user}` of workspace `{ws}`")))
            })
        })
        .await
    }

    pub async fn remove_workspace_member(
        &self,
        actor: Actor,
        org: String,
        ws: String,
        user: String,
    ) -> Result<(), DomainError> {
        // Not `check_user_id`: a `system` member from before the id was
        // reserved can still be removed.
        check_id("user id", &user)?;
        self.run(move |inner| {
            inner.change_org(&org, |c| {
                fetch_workspace(c, &org, &ws)?;
                let current = c.db.workspace_role(&ws, &user)?;
                let probe = current.unwrap_or(WorkspaceRole::Member);
                c.authorize(
                    &actor,
                    "workspace.manage_members",
                    Target::Workspace(&ws),
                    &[("role", probe.as_str())],
                )?;
                let Some(current) = current else {
                    return Err(DomainError::NotFound(format!(
                        "member `{user}` of workspace `{ws}`"
                    )));
                };
                c.db.delete_workspace_member(&ws, &user)?;
                c.audit(
                    &org,
                    &actor,
                    "workspace.member_remove",
                    &format!("User::{user}"),
                    json!({"workspace": ws, "role": current}),
                )?;
                Ok(())
            })
        })
        .await
    }
}

fn ws_target(ws: &str) -> String {
    format!("Workspace::{ws}")
}

/// The workspace `ws` of `org`; a workspace of another org reads as missing.
fn fetch_workspace(c: &Change<'_, '_>, org: &str, ws: &str) -> Result<Workspace, DomainError> {
    c.require_org(org)?;
    c.db.get_workspace(ws)?
        .filter(|w| w.org_id == org)
        .ok_or_else(|| DomainError::NotFound(format!("workspace `{ws}` of `{org}`")))
}
