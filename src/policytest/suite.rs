//! The policy test file format: a fixture of organizations, workspaces,
//! memberships and host entities, then cases that each name one or more
//! principals and actions, a resource, and the decision they must get.
//!
//! ```yaml
//! name: owners and admins
//! fixture:
//!   orgs:
//!     acme:
//!       roles: { billing-viewer: [billing.read] }
//!       members: { alice: owner, bob: admin, dave: member, erin: billing-viewer }
//!       workspaces:
//!         eng: { dave: admin }
//!   entities:
//!     - uid: { type: Document, id: spec }
//!       attrs: {}
//!       parents: [{ type: Workspace, id: eng }]
//! cases:
//!   - name: only owners delete the organization
//!     principal: [bob, dave]
//!     action: org.delete
//!     resource: Organization::"acme"
//!     expect: deny
//!   - name: admins may grant member
//!     principal: bob
//!     action: member.invite
//!     resource: Organization::"acme"
//!     context: { role: member }
//!     expect: allow
//!     reasons: [admins-manage-members]
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::authz::{RoleGrants, RoleMap};
use crate::model::{OrgAccess, RoleKey, WorkspaceAccess, WorkspaceRole};

/// Where a policy folder keeps its tests.
pub const TESTS_DIR: &str = "tests";
/// Most test files read.
pub const MAX_FILES: usize = 200;
/// Largest test file read.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;
/// Most checks one file may expand to (principals × actions over its cases).
pub const MAX_CHECKS: usize = 100_000;

/// Why the tests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("`{dir}` holds more than {MAX_FILES} test files")]
    TooManyFiles { dir: PathBuf },
    #[error("`{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The decision a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    // Many first: a list is also a valid JSON value.
    Many(Vec<T>),
    One(T),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: Option<String>,
    #[serde(default)]
    fixture: FixtureFile,
    cases: Vec<CaseFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    orgs: BTreeMap<String, OrgFile>,
    #[serde(default)]
    entities: Vec<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFile {
    /// Custom roles of the org: key → permissions.
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    members: BTreeMap<String, RoleKey>,
    #[serde(default)]
    workspaces: BTreeMap<String, BTreeMap<String, WorkspaceRole>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: String,
    principal: OneOrMany<Value>,
    action: OneOrMany<String>,
    resource: Value,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    entities: Vec<Value>,
    expect: Expect,
    #[serde(default)]
    reasons: Option<Vec<String>>,
}

/// One test file, read and checked.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: String,
    pub name: String,
    pub fixture: Vec<OrgAccess>,
    /// The custom roles the fixture declares: the only ones its checks see.
    pub roles: RoleMap,
    pub cases: Vec<Case>,
}

/// One case: every principal × action pair is one check.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// In Cedar's string form or as a `{"type","id"}` object.
    pub principals: Vec<Value>,
    pub actions: Vec<Value>,
    pub resource: Value,
    pub context: Option<Value>,
    /// The fixture's host entities plus the case's own.
    pub entities: Vec<Value>,
    pub expect: Expect,
    /// Sorted, when the case pins them.
    pub reasons: Option<Vec<String>>,
}

impl Suite {
    /// Checks the suite expands to.
    pub fn checks(&self) -> usize {
        self.cases
            .iter()
            .map(|c| c.principals.len() * c.actions.len())
            .sum()
    }
}

/// The test folder of a policy folder.
pub fn tests_dir(policies: &Path) -> PathBuf {
    policies.join(TESTS_DIR)
}

/// Reads every `*.yaml` / `*.yml` file of `dir`, sorted by name. A folder
/// that does not exist holds no tests.
pub fn load_dir(dir: &Path) -> Result<Vec<Suite>, SuiteError> {
    let io = |source| SuiteError::Io {
        path: dir.to_owned(),
        source,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let wanted = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.') && (n.ends_with(".yaml") || n.ends_with(".yml")));
        if wanted && path.is_file() {
            paths.push(path);
        }
        if paths.len() > MAX_FILES {
            return Err(SuiteError::TooManyFiles {
                dir: dir.to_owned(),
            });
        }
    }
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// Reads one test file.
pub fn load_file(path: &Path) -> Result<Suite, SuiteError> {
    let io = |source| SuiteError::Io {
        path: path.to_owned(),
        source,
    };
    if fs::metadata(path).map_err(io)?.len() > MAX_FILE_BYTES {
        return Err(SuiteError::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = fs::read_to_string(path).map_err(io)?;
    let invalid = |message: String| SuiteError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: SuiteFile = serde_yaml_ng::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let suite = build(path, file).map_err(invalid)?;
    if suite.checks() > MAX_CHECKS {
        return Err(invalid(format!(
            "expands to {} checks; at most {MAX_CHECKS} per file",
            suite.checks()
        )));
    }
    Ok(suite)
}

fn build(path: &Path, file: SuiteFile) -> Result<Suite, String> {
    let mut roles = RoleMap::new();
    let fixture = file
        .fixture
        .orgs
        .into_iter()
        .map(|(org, spec)| org_access(org, spec, &mut roles))
        .collect::<Result<Vec<_>, _>>()?;
    let shared = file.fixture.entities;
    let cases = file
        .cases
        .into_iter()
        .map(|case| {
            let principals: Vec<Value> = case
                .principal
                .into_vec()
                .into_iter()
                .map(|p| shorthand(p, "User"))
                .collect();
            let actions: Vec<Value> = case
                .action
                .into_vec()
                .into_iter()
                .map(|a| shorthand(Value::String(a), "Action"))
                .collect();
            if principals.is_empty() || actions.is_empty() {
                return Err(format!(
                    "case `{}` names no principal or no action",
                    case.name
                ));
            }
            let mut entities = shared.clone();
            entities.extend(case.entities);
            Ok(Case {
                name: case.name,
                principals,
                actions,
                resource: case.resource,
                context: case.context,
                entities,
                expect: case.expect,
                reasons: case.reasons.map(|mut r| {
                    r.sort();
                    r
                }),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Suite {
        path: path.display().to_string(),
        name: file.name.unwrap_or_default(),
        fixture,
        roles,
        cases,
    })
}

/// A fixture org as the snapshot wants it; workspace members must be
/// members of the org, as in the sidecar's database.
fn org_access(org: String, spec: OrgFile, roles: &mut RoleMap) -> Result<OrgAccess, String> {
    if let Some(bad) = spec
        .roles
        .keys()
        .find(|k| !crate::model::is_valid_role_key(k))
    {
        return Err(format!(
            "organization `{org}`: `{bad}` cannot be a custom role key"
        ));
    }
    if let Some((user, key)) = spec.members.iter().find_map(|(user, role)| {
        role.custom()
            .filter(|k| !spec.roles.contains_key(*k))
            .map(|k| (user, k))
    }) {
        return Err(format!(
            "organization `{org}`: `{user}` holds `{key}`, which is not in its `roles`"
        ));
    }
    if !spec.roles.is_empty() {
        let grants = spec
            .roles
            .iter()
            .map(|(key, permissions)| RoleGrants {
                org: org.clone(),
                key: key.clone(),
                permissions: permissions.clone(),
            })
            .collect();
        roles.insert(org.clone(), grants);
    }
    let mut workspaces = Vec::new();
    for (ws, members) in spec.workspaces {
        if let Some(outsider) = members.keys().find(|u| !spec.members.contains_key(*u)) {
            return Err(format!(
                "workspace `{ws}`: `{outsider}` is not a member of organization `{org}`"
            ));
        }
        workspaces.push(WorkspaceAccess {
            workspace_id: ws,
            members: members.into_iter().collect(),
        });
    }
    Ok(OrgAccess {
        org_id: org,
        members: spec.members.into_iter().collect(),
        workspaces,
        custom_roles: spec.roles.keys().cloned().collect(),
    })
}

/// A bare id (`alice`, `org.read`) stands for `Type::"id"`; Cedar's string
/// form and objects pass through.
fn shorthand(value: Value, kind: &str) -> Value {
    match value {
        Value::String(s) if !s.contains("::") => serde_json::json!({"type": kind, "id": s}),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Suite, String> {
        let file: SuiteFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        build(Path::new("t.yaml"), file)
    }

    #[test]
    fn shorthands_expand_and_cases_multiply() {
        let suite = parse(
            "cases:\n  - name: c\n    principal: [alice, 'User::\"bob\"']\n    action: [org.read, org.update]\n    resource: Organization::\"acme\"\n    expect: allow\n",
        )
        .unwrap();
        assert_eq!(suite.checks(), 4);
        let case = &suite.cases[0];
        assert_eq!(
            case.principals[0],
            serde_json::json!({"type": "User", "id": "alice"})
        );
        assert_eq!(case.principals[1], Value::String("User::\"bob\"".into()));
        assert_eq!(
            case.actions[1],
            serde_json::json!({"type": "Action", "id": "org.update"})
        );
    }

    #[test]
    fn workspace_members_must_belong_to_the_org() {
        let err = parse(
            "fixture:\n  orgs:\n    acme:\n      members: {alice: owner}\n      workspaces:\n        eng: {bob: member}\ncases: []\n",
        )
        .unwrap_err();
        assert!(err.contains("`bob` is not a member"), "{err}");
    }

    #[test]
    fn unknown_fields_and_roles_are_refused() {
        assert!(parse("cases: []\nextra: 1\n").is_err());
        assert!(
            parse("fixture:\n  orgs:\n    acme:\n      members: {alice: boss}\ncases: []\n")
                .is_err()
        );
    }
}
