//! The routes file: its YAML format, the checks a file must pass as a
//! whole, and matching a forwarded request to a decision request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::path::{fill, is_name, parse_text, split_path, PathTemplate, Piece};
use super::{Refusal, RoutesError, MAX_ENTITY_LINKS, MAX_ROUTES};
use crate::authz::{DecisionRequest, SIDECAR_TYPES};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesFile {
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// An HTTP method, or `*` for any.
    pub method: String,
    pub path: String,
    /// The Cedar action id (of type `Action`).
    pub action: String,
    pub resource: ResourceSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// Parents of a host entity, e.g. the workspace of a document.
    #[serde(default)]
    pub parents: Vec<EntitySpec>,
    /// Attributes of a host entity: entity references or strings.
    #[serde(default)]
    pub attrs: BTreeMap<String, AttrSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AttrSpec {
    Entity(EntitySpec),
    Text(String),
}

/// One route as `GET /v1/routes` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RouteSummary {
    pub method: String,
    pub path: String,
    pub action: String,
    pub resource_type: String,
}

/// An entity reference whose id is filled from the path.
#[derive(Debug, Clone)]
struct EntityTemplate {
    kind: String,
    id: Vec<Piece>,
}

impl EntityTemplate {
    fn compile(spec: &EntitySpec, params: &[String]) -> Result<Self, RoutesError> {
        check_type(&spec.kind)?;
        Ok(Self {
            kind: spec.kind.clone(),
            id: parse_text(&spec.id, params)?,
        })
    }

    fn render(&self, values: &[&str]) -> Value {
        json!({"type": self.kind, "id": fill(&self.id, values)})
    }
}

#[derive(Debug, Clone)]
enum AttrTemplate {
    Entity(EntityTemplate),
    Text(Vec<Piece>),
}

#[derive(Debug, Clone)]
struct Route {
    summary: RouteSummary,
    /// `None` matches any method.
    method: Option<String>,
    path: PathTemplate,
    resource: EntityTemplate,
    parents: Vec<EntityTemplate>,
    attrs: Vec<(String, AttrTemplate)>,
}

/// A request the routes map to a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Index of the matching route in the file.
    pub route: usize,
    pub action: String,
    pub resource: Value,
    /// The host entity of the resource, when the route describes one.
    pub entities: Option<Value>,
}

impl Resolved {
    /// The decision request for `user`.
    pub fn request(&self, user: &str) -> DecisionRequest {
        DecisionRequest {
            principal: json!({"type": "User", "id": user}),
            action: json!({"type": "Action", "id": self.action}),
            resource: self.resource.clone(),
            context: None,
            entities: self.entities.clone(),
        }
    }
}

/// A checked routes file, ready to match.
#[derive(Debug, Clone, Default)]
pub struct Table {
    routes: Vec<Route>,
}

/// The sidecar builds entities of its own types from its database.
fn sidecar_owned(kind: &str) -> bool {
    SIDECAR_TYPES.contains(&kind)
}

fn check_type(kind: &str) -> Result<(), RoutesError> {
    let ok = kind.len() <= 128 && kind.split("::").all(is_name);
    if ok {
        Ok(())
    } else {
        Err(RoutesError::Template(format!(
            "`{kind}` is not an entity type name"
        )))
    }
}

fn compile_method(method: &str) -> Result<Option<String>, RoutesError> {
    if method == "*" {
        return Ok(None);
    }
    let upper = method.to_ascii_uppercase();
    if upper.is_empty() || upper.len() > 16 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(RoutesError::Template(format!(
            "`{method}` is not an HTTP method or `*`"
        )));
    }
    Ok(Some(upper))
}

fn compile(spec: &RouteSpec) -> Result<Route, RoutesError> {
    let method = compile_method(&spec.method)?;
    let path = PathTemplate::parse(&spec.path)?;
    if spec.action.is_empty() || spec.action.len() > 128 || spec.action.contains(['{', '}']) {
        return Err(RoutesError::Template(format!(
            "action `{}` must be 1-128 characters without `{{`",
            spec.action
        )));
    }
    let r = &spec.resource;
    let resource = EntityTemplate::compile(
        &EntitySpec {
            kind: r.kind.clone(),
            id: r.id.clone(),
        },
        &path.params,
    )?;
    if sidecar_owned(&r.kind) && (!r.parents.is_empty() || !r.attrs.is_empty()) {
        return Err(RoutesError::Template(format!(
            "`{}` is built by the sidecar from its database; a route may not give it parents or attrs",
            r.kind
        )));
    }
    if r.parents.len() > MAX_ENTITY_LINKS || r.attrs.len() > MAX_ENTITY_LINKS {
        return Err(RoutesError::Template(format!(
            "at most {MAX_ENTITY_LINKS} parents and {MAX_ENTITY_LINKS} attrs"
        )));
    }
    let parents = r
        .parents
        .iter()
        .map(|p| EntityTemplate::compile(p, &path.params))
        .collect::<Result<_, _>>()?;
    let attrs = r
        .attrs
        .iter()
        .map(|(name, attr)| {
            let attr = match attr {
                AttrSpec::Entity(e) => {
                    AttrTemplate::Entity(EntityTemplate::compile(e, &path.params)?)
                }
                AttrSpec::Text(t) => AttrTemplate::Text(parse_text(t, &path.params)?),
            };
            Ok((name.clone(), attr))
        })
        .collect::<Result<_, RoutesError>>()?;
    Ok(Route {
        summary: RouteSummary {
            method: method.clone().unwrap_or_else(|| "*".to_owned()),
            path: spec.path.clone(),
            action: spec.action.clone(),
            resource_type: r.kind.clone(),
        },
        method,
        path,
        resource,
        parents,
        attrs,
    })
}

impl Table {
    /// Parses and checks a whole file; one bad route rejects the file.
    pub fn parse(text: &str) -> Result<Self, RoutesError> {
        let file: RoutesFile =
            serde_yaml_ng::from_str(text).map_err(|e| RoutesError::Syntax(e.to_string()))?;
        if file.routes.len() > MAX_ROUTES {
            return Err(RoutesError::TooMany(file.routes.len()));
        }
        let routes = file
            .routes
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                compile(spec).map_err(|e| RoutesError::Route {
                    index: i + 1,
                    source: Box::new(e),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { routes })
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn summaries(&self) -> Vec<RouteSummary> {
        self.routes.iter().map(|r| r.summary.clone()).collect()
    }

    /// The first route (in file order) matching `method` and the forwarded
    /// request target `uri`. A `GET` route also answers `HEAD`, which
    /// servers treat as a `GET` without body.
    pub fn resolve(&self, method: &str, uri: &str) -> Result<Resolved, Refusal> {
        let segments = split_path(uri)?;
        let method = method.to_ascii_uppercase();
        for (index, route) in self.routes.iter().enumerate() {
            let method_ok = match &route.method {
                None => true,
                Some(m) => *m == method || (m == "GET" && method == "HEAD"),
            };
            if !method_ok {
                continue;
            }
            if let Some(values) = route.path.matches(&segments) {
                return Ok(route.resolve(index, &values));
            }
        }
        Err(Refusal::NoRoute {
            method,
            path: uri.split(['?', '#']).next().unwrap_or_default().to_owned(),
        })
    }
}

impl Route {
    fn resolve(&self, index: usize, values: &[&str]) -> Resolved {
        let resource = self.resource.render(values);
        let entities = (!sidecar_owned(&self.resource.kind)).then(|| {
            let attrs: Map<String, Value> = self
                .attrs
                .iter()
                .map(|(name, attr)| {
                    let value = match attr {
                        AttrTemplate::Entity(e) => e.render(values),
                        AttrTemplate::Text(t) => Value::String(fill(t, values)),
                    };
                    (name.clone(), value)
                })
                .collect();
            let parents: Vec<Value> = self.parents.iter().map(|p| p.render(values)).collect();
            json!([{"uid": resource, "attrs": attrs, "parents": parents}])
        });
        Resolved {
            route: index,
            action: self.summary.action.clone(),
            resource,
            entities,
        }
    }
}
