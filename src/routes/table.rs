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
    /// Whether a request carrying a method-override header
    /// (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`)
    /// may use this route; it is then judged as the overriding method.
    #[serde(default)]
    pub allow_method_override: bool,
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
    allow_method_override: bool,
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
    let route = Route {
        summary: RouteSummary {
            method: method.clone().unwrap_or_else(|| "*".to_owned()),
            path: spec.path.clone(),
            action: spec.action.clone(),
            resource_type: r.kind.clone(),
        },
        method,
        path,
        allow_method_override: spec.allow_method_override,
        resource,
        parents,
        attrs,
    };
    route.check_bound()?;
    Ok(route)
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

    /// Fails on the first route whose action the schema does not declare
    /// for a `User` on the route's resource type (`declared` lists the
    /// actions declared on a type); such a route could never be evaluated.
    pub fn check_actions(&self, declared: impl Fn(&str) -> Vec<String>) -> Result<(), RoutesError> {
        for (i, route) in self.routes.iter().enumerate() {
            let kind = &route.summary.resource_type;
            if !declared(kind).contains(&route.summary.action) {
                return Err(RoutesError::Route {
                    index: i + 1,
                    source: Box::new(RoutesError::Template(format!(
                        "the schema declares no action `{}` for a `User` on a `{kind}`",
                        route.summary.action
                    ))),
                });
            }
        }
        Ok(())
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
    /// servers treat as a `GET` without body. With `method_override` (the
    /// value of a method-override header) the request is judged as that
    /// method, and only a route with `allow_method_override` may take it.
    pub fn resolve(
        &self,
        method: &str,
        uri: &str,
        method_override: Option<&str>,
    ) -> Result<Resolved, Refusal> {
        let segments = split_path(uri)?;
        let method = match method_override {
            None => method,
            Some(m) if compile_method(m).ok().flatten().is_some() => m,
            Some(m) => {
                return Err(Refusal::MethodOverride(format!(
                    "the method-override value `{m}` is not an HTTP method"
                )))
            }
        };
        if let Some(literal) = self.routes.iter().find_map(|r| r.path.case_twin(&segments)) {
            return Err(Refusal::InvalidPath(format!(
                "a segment differs from the route literal `{literal}` only in letter case"
            )));
        }
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
                if method_override.is_some() && !route.allow_method_override {
                    return Err(Refusal::MethodOverride(format!(
                        "route {} does not set `allow_method_override`",
                        index + 1
                    )));
                }
                return Ok(route.resolve(index, &values));
            }
        }
        Err(Refusal::NoRoute {
            method,
            path: uri.split('?').next().unwrap_or_default().to_owned(),
        })
    }
}

impl Route {
    /// Every `{name}` of the path must reach the decision (the resource id,
    /// a parent or an attribute), or start with `_` to say it is ignored on
    /// purpose: a segment nothing reads lets `/orgs/globex/…` be judged as
    /// whatever the other segments name.
    fn check_bound(&self) -> Result<(), RoutesError> {
        let mut used = vec![false; self.path.params.len()];
        let mut mark = |pieces: &[Piece]| {
            for piece in pieces {
                if let Piece::Param(i) = piece {
                    if let Some(u) = used.get_mut(*i) {
                        *u = true;
                    }
                }
            }
        };
        mark(&self.resource.id);
        for parent in &self.parents {
            mark(&parent.id);
        }
        for (_, attr) in &self.attrs {
            match attr {
                AttrTemplate::Entity(e) => mark(&e.id),
                AttrTemplate::Text(t) => mark(t),
            }
        }
        let unbound = self
            .path
            .params
            .iter()
            .zip(&used)
            .find(|(name, used)| !**used && !name.starts_with('_'));
        match unbound {
            Some((name, _)) => Err(RoutesError::Template(format!(
                "`{{{name}}}` of `{}` is bound to nothing: use it in the resource's id, parents or attrs, or call it `{{_{name}}}` to ignore it",
                self.summary.path
            ))),
            None => Ok(()),
        }
    }

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
