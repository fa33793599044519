//! The reference the differential test compares the sidecar with: Cedar's
//! own `Authorizer` over every entity of the database, built naively from
//! the SQLite file as DESIGN.md's Cedar model describes, and the policy set
//! of the files plus the custom roles' generated policies.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, Request, RestrictedExpression, Schema,
};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

const BUILTIN: [&str; 4] = ["owner", "admin", "accounting", "member"];

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(kind).unwrap(), EntityId::new(id))
}

fn role(id: &str) -> EntityUid {
    uid("Role", id)
}

fn entity_attr(target: EntityUid) -> RestrictedExpression {
    RestrictedExpression::new_entity_uid(target)
}

/// The schema and file policies of a policy folder, read once per world.
pub struct Files {
    pub schema: Schema,
    policies: Vec<Policy>,
}

impl Files {
    pub fn read(policies: &Path, schema: &Path) -> Self {
        let mut text = String::new();
        for entry in std::fs::read_dir(schema).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "cedarschema") {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
                text.push('\n');
            }
        }
        let (schema, _) = Schema::from_cedarschema_str(&text).unwrap();
        let mut out = Vec::new();
        for entry in std::fs::read_dir(policies).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "cedar") {
                continue;
            }
            let set = PolicySet::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for policy in set.policies() {
                let id = policy.annotation("id").expect("test policies carry an @id");
                out.push(policy.new_id(PolicyId::new(id)));
            }
        }
        Self {
            schema,
            policies: out,
        }
    }
}

/// Every entity and policy of one database state.
pub struct World {
    entities: Entities,
    policies: PolicySet,
}

impl World {
    /// Reads the database at `db` directly.
    pub fn read(db: &Path, files: &Files) -> Self {
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let rows = |sql: &str| -> Vec<Vec<String>> {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            stmt.query_map([], |row| (0..n).map(|i| row.get::<_, String>(i)).collect())
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let mut entities = Vec::new();
        let mut parents: HashMap<String, HashSet<EntityUid>> = HashMap::new();
        for org in rows("SELECT id FROM organizations") {
            let org = &org[0];
            let group = |r: &str| role(&format!("{org}#{r}"));
            let attrs = HashMap::from([
                ("owners".to_owned(), entity_attr(group("owner"))),
                ("admins".to_owned(), entity_attr(group("admin"))),
                ("accounting".to_owned(), entity_attr(group("accounting"))),
                ("members".to_owned(), entity_attr(group("member"))),
            ]);
            entities.push(Entity::new(uid("Organization", org), attrs, HashSet::new()).unwrap());
            // owner in admin in member; accounting in member.
            for (r, above) in [
                ("owner", Some("admin")),
                ("admin", Some("member")),
                ("accounting", Some("member")),
                ("member", None),
            ] {
                let up: HashSet<EntityUid> = above.map(group).into_iter().collect();
                entities.push(Entity::new_no_attrs(group(r), up));
            }
        }
        let mut policies = PolicySet::new();
        for p in &files.policies {
            policies.add(p.clone()).unwrap();
        }
        for row in rows("SELECT org_id, key, permissions FROM custom_roles") {
            let (org, key) = (&row[0], &row[1]);
            let group = role(&format!("{org}#custom:{key}"));
            let member = role(&format!("{org}#member"));
            entities.push(Entity::new_no_attrs(group.clone(), HashSet::from([member])));
            let permissions: Vec<String> = serde_json::from_str(&row[2]).unwrap();
            for permission in permissions {
                let text = format!(
                    "permit (principal in {group}, action == {}, resource in {});",
                    uid("Action", &permission),
                    uid("Organization", org)
                );
                let id = format!("role:{org}:{key}:{permission}");
                policies
                    .add(Policy::parse(Some(PolicyId::new(id)), text).unwrap())
                    .unwrap();
            }
        }
        for ws in rows("SELECT id, org_id FROM workspaces") {
            let (ws, org) = (&ws[0], &ws[1]);
            let group = |r: &str| role(&format!("{org}/{ws}#{r}"));
            let org_uid = uid("Organization", org);
            let attrs = HashMap::from([
                ("org".to_owned(), entity_attr(org_uid.clone())),
                ("admins".to_owned(), entity_attr(group("admin"))),
                ("members".to_owned(), entity_attr(group("member"))),
            ]);
            entities
                .push(Entity::new(uid("Workspace", ws), attrs, HashSet::from([org_uid])).unwrap());
            entities.push(Entity::new_no_attrs(
                group("admin"),
                HashSet::from([group("member")]),
            ));
            entities.push(Entity::new_no_attrs(group("member"), HashSet::new()));
        }
        for user in rows("SELECT id FROM users") {
            parents.entry(user[0].clone()).or_default();
        }
        for row in rows("SELECT org_id, user_id, role FROM org_members") {
            let (org, user, r) = (&row[0], &row[1], &row[2]);
            let group = if BUILTIN.contains(&r.as_str()) {
                format!("{org}#{r}")
            } else {
                format!("{org}#custom:{r}")
            };
            parents
                .entry(user.clone())
                .or_default()
                .insert(role(&group));
        }
        for row in rows("SELECT org_id, workspace_id, user_id, role FROM workspace_members") {
            let (org, ws, user, r) = (&row[0], &row[1], &row[2], &row[3]);
            let group = role(&format!("{org}/{ws}#{r}"));
            parents.entry(user.clone()).or_default().insert(group);
        }
        for (user, up) in parents {
            entities.push(Entity::new_no_attrs(uid("User", &user), up));
        }
        let entities = Entities::from_entities(entities, Some(&files.schema)).unwrap();
        Self { entities, policies }
    }

    /// Cedar's answer to `request` (the sidecar's JSON form) over the whole
    /// world plus the request's own entities: decision, sorted reasons and
    /// the sorted ids of the policies that failed.
    pub fn decide(&self, files: &Files, request: &Value) -> (String, Vec<String>, Vec<String>) {
        let parse = |v: &Value| EntityUid::from_json(v.clone()).unwrap();
        let principal = parse(&request["principal"]);
        let action = parse(&request["action"]);
        let resource = parse(&request["resource"]);
        let context =
            Context::from_json_value(request["context"].clone(), Some((&files.schema, &action)))
                .unwrap();
        let req = Request::new(principal, action, resource, context, Some(&files.schema)).unwrap();
        let mut host = Vec::new();
        if let Some(Value::Array(items)) = request.get("entities") {
            for item in items {
                host.push(Entity::from_json_value(item.clone(), Some(&files.schema)).unwrap());
            }
        }
        let entities = self
            .entities
            .clone()
            .add_entities(host, Some(&files.schema))
            .unwrap();
        let response = Authorizer::new().is_authorized(&req, &self.policies, &entities);
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        reasons.sort();
        let mut errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = e;
                e.policy_id().to_string()
            })
            .collect();
        errors.sort();
        errors.dedup();
        let decision = match response.decision() {
            Decision::Allow => "Allow",
            Decision::Deny => "Deny",
        };
        (decision.to_owned(), reasons, errors)
    }
}
