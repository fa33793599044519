//! Decisions: the only module that touches cedar-policy. It loads and
//! validates the policy set with its schema, keeps the current set behind an
//! atomic pointer, builds each request's entity slice from the membership
//! snapshot and evaluates.

mod assemble;
mod bounds;
mod cache;
mod catalog;
mod diagnostics;
mod format;
mod holding;
mod load;
mod memo;
mod permissions;
mod roles;
mod slice;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use cedar_policy::{Authorizer, Entities, EntityId, EntityUid, Request};
use cedar_policy_core::ast;
use cedar_policy_core::entities::{EntityJsonParser, TCComputation};
use cedar_policy_core::extensions::Extensions;
use cedar_policy_core::validator::CoreSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use bounds::{weight, Deadline, MAX_REQUEST_ANCESTORS, MAX_REQUEST_PARENTS};
pub use diagnostics::Problem;
pub use format::{format_policies, FormatError};
pub use holding::PreparedRoles;
pub use load::{policy_paths, read_file, LoadError, PolicyFile, MAX_FILES, MAX_FILE_BYTES};
pub use permissions::Permissions;
pub use roles::{policy_id, Grantable, RoleGrants, RoleMap, ROLES_PATH};
pub use slice::{is_sidecar_type, MAX_REQUEST_ENTITIES, SIDECAR_TYPES};

use crate::snapshot::Snapshot;

/// Most requests in one batch.
pub const MAX_BATCH: usize = 100;

/// A request the sidecar cannot decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
    #[error("entity `{0}` is of a type the sidecar owns; requests may not supply it")]
    ReservedEntity(String),
    #[error("entity `{0}` may not be a member of a role group; only the sidecar assigns roles")]
    ReservedParent(String),
    /// The call's deadline passed before it was decided.
    #[error("the request took too long")]
    TimedOut,
    #[error("request {index}: {source}")]
    BatchItem {
        index: usize,
        #[source]
        source: Box<RequestError>,
    },
}

impl RequestError {
    /// Whether the request tried to supply sidecar-owned entities.
    pub fn is_reserved(&self) -> bool {
        match self {
            Self::ReservedEntity(_) | Self::ReservedParent(_) => true,
            Self::BatchItem { source, .. } => source.is_reserved(),
            Self::Invalid(_) | Self::TimedOut => false,
        }
    }

    /// Whether the call ran past its deadline (an answer of "retry", not
    /// of "malformed").
    pub fn is_timeout(&self) -> bool {
        match self {
            Self::TimedOut => true,
            Self::BatchItem { source, .. } => source.is_timeout(),
            _ => false,
        }
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> RequestError {
    RequestError::Invalid(format!("{what}: {e}"))
}

/// An entity uid, as an object or in Cedar's string form (`User::"alice"`).
/// (Describes the accepted forms in the API document.)
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EntityRef {
    Object {
        #[serde(rename = "type")]
        kind: String,
        id: String,
    },
    Text(String),
}

/// One is-authorized question, as the API receives it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[schema(value_type = EntityRef)]
    pub principal: Value,
    #[schema(value_type = EntityRef)]
    pub action: Value,
    #[schema(value_type = EntityRef)]
    pub resource: Value,
    /// The request context, checked against the schema of the action.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Entities of the host's own types, in Cedar's JSON entity format: at
    /// most 1,000, with at most 5,000 parent links and 100,000 ancestor
    /// links in all.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Value>,
}

/// One question of a batch: no entities of its own.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    #[schema(value_type = EntityRef)]
    pub principal: Value,
    #[schema(value_type = EntityRef)]
    pub action: Value,
    #[schema(value_type = EntityRef)]
    pub resource: Value,
    /// The request context, checked against the schema of the action.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub requests: Vec<BatchItem>,
    /// Entities shared by every request of the batch (the limits of
    /// `/v1/is_authorized` hold for the whole batch).
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Outcome {
    Allow,
    Deny,
}

/// A policy that failed to evaluate (it is then ignored, which can only
/// turn an Allow into a Deny).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EvalError {
    pub policy: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub decision: Outcome,
    pub reasons: Vec<String>,
    pub errors: Vec<EvalError>,
    pub policy_revision: String,
    pub data_revision: u64,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.decision == Outcome::Allow
    }
}

/// The resource of a management call.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Org(&'a str),
    Workspace(&'a str),
}

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReloadStatus {
    pub ok: bool,
    pub at: String,
    pub error: Option<String>,
}

/// What `GET /v1/policies` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyInfo {
    pub revision: String,
    pub loaded_at: String,
    pub files: Vec<PolicyFile>,
    pub last_reload: ReloadStatus,
    /// What the serving set's test files said when it went live; absent
    /// when the set has no tests or they are not required.
    pub tests: Option<TestStatus>,
}

/// The result of running a policy set's own test files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TestStatus {
    pub files: usize,
    pub checks: usize,
    pub failed: usize,
    /// The first failures, one line each.
    pub failures: Vec<String>,
}

/// Runs a candidate set's tests before it may serve: `Ok(None)` when the
/// set has no tests, `Err` when they cannot be read (which rejects the set
/// like a failure).
pub type Gate = Box<dyn Fn(&Authz) -> Result<Option<TestStatus>, String> + Send + Sync>;

/// What validating policy text against the loaded schema found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

/// What loading a whole policy set found, when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationSummary {
    /// Policies in the set.
    pub policies: usize,
    /// Policy files read.
    pub files: usize,
    pub warnings: Vec<Problem>,
}

/// Loads and validates the set of `policies_dir` against the schema of
/// `schema_dir` exactly as the sidecar does at start and on reload.
pub fn validate_dirs(
    policies_dir: &Path,
    schema_dir: &Path,
) -> Result<ValidationSummary, Vec<Problem>> {
    let bundle = load::load_dirs(policies_dir, schema_dir).map_err(|e| e.problems())?;
    Ok(ValidationSummary {
        policies: bundle.policies.policies().count(),
        files: bundle.files.len(),
        warnings: bundle.warnings,
    })
}

/// The decision point: the current policy set, swapped atomically on reload.
pub struct Authz {
    policies_dir: PathBuf,
    schema_dir: PathBuf,
    current: ArcSwap<load::PolicyBundle>,
    last_reload: Mutex<ReloadStatus>,
    /// Serializes reloads so two watchers' events cannot race.
    reload_lock: Mutex<()>,
    authorizer: Authorizer,
    gate: Option<Gate>,
    tests: Mutex<Option<TestStatus>>,
    /// Built organization and workspace entities; valid across data and
    /// policy changes (see [`cache`]).
    entity_cache: cache::EntityCache,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz")
            .field("policies_dir", &self.policies_dir)
            .field("schema_dir", &self.schema_dir)
            .field("revision", &self.current.load().revision)
            .finish()
    }
}

impl Authz {
    /// Loads the set; fails (so the sidecar refuses to start) when there is
    /// no valid set.
    pub fn load(policies_dir: &Path, schema_dir: &Path) -> Result<Self, LoadError> {
        Self::load_gated(policies_dir, schema_dir, None)
    }

    /// Like [`Authz::load`], but every set, the first one included, must
    /// also pass `gate` (its test files) before it serves.
    pub fn load_gated(
        policies_dir: &Path,
        schema_dir: &Path,
        gate: Option<Gate>,
    ) -> Result<Self, LoadError> {
        let bundle = load::load_dirs(policies_dir, schema_dir)?;
        for warning in &bundle.warnings {
            tracing::warn!(%warning, "policy warning");
        }
        let mut authz = Self::with_bundle(policies_dir, schema_dir, bundle);
        if let Some(gate) = &gate {
            let tests = run_gate(gate, &authz)?;
            authz.tests = Mutex::new(tests);
        }
        authz.gate = gate;
        Ok(authz)
    }

    fn with_bundle(policies_dir: &Path, schema_dir: &Path, bundle: load::PolicyBundle) -> Self {
        let status = ReloadStatus {
            ok: true,
            at: bundle.loaded_at.clone(),
            error: None,
        };
        Self {
            policies_dir: policies_dir.to_owned(),
            schema_dir: schema_dir.to_owned(),
            current: ArcSwap::from_pointee(bundle),
            last_reload: Mutex::new(status),
            reload_lock: Mutex::new(()),
            authorizer: Authorizer::new(),
            gate: None,
            tests: Mutex::new(None),
            entity_cache: cache::EntityCache::default(),
        }
    }

    /// Runs the gate on a set that is not serving yet, by giving it an
    /// `Authz` of its own.
    fn gated(
        &self,
        bundle: load::PolicyBundle,
    ) -> Result<(Arc<load::PolicyBundle>, Option<TestStatus>), LoadError> {
        let candidate = Self::with_bundle(&self.policies_dir, &self.schema_dir, bundle);
        let tests = match &self.gate {
            Some(gate) => run_gate(gate, &candidate)?,
            None => None,
        };
        Ok((candidate.current.into_inner(), tests))
    }

    pub fn policies_dir(&self) -> &Path {
        &self.policies_dir
    }

    pub fn schema_dir(&self) -> &Path {
        &self.schema_dir
    }

    /// Re-reads the folders. A valid set that differs from the current one
    /// is swapped in; an invalid one is rejected whole and the current set
    /// keeps serving. Returns the revision now serving.
    pub fn reload(&self) -> Result<String, LoadError> {
        let _guard = self
            .reload_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let serving = self.current.load_full();
        let current = serving.revision.clone();
        let result = load::load_dirs(&self.policies_dir, &self.schema_dir).and_then(|bundle| {
            if bundle.file_revision == serving.file_revision {
                Ok((serving.clone(), None))
            } else {
                self.gated(self.with_current_roles(bundle)?)
            }
        });
        let mut status = self
            .last_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok((bundle, tests)) => {
                let revision = bundle.revision.clone();
                let changed = revision != current;
                // An unchanged set is not news, unless it ends a failure.
                let news = changed || !status.ok;
                if news {
                    crate::metrics::policy_reload(crate::metrics::Reload::Ok);
                    *status = ReloadStatus {
                        ok: true,
                        at: bundle.loaded_at.clone(),
                        error: None,
                    };
                }
                if changed {
                    for warning in &bundle.warnings {
                        tracing::warn!(%warning, "policy warning");
                    }
                    tracing::info!(%revision, "policy set reloaded");
                    self.current.store(bundle);
                    *self
                        .tests
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = tests;
                }
                Ok(revision)
            }
            Err(e) => {
                let message = e.to_string();
                // The periodic re-check would repeat the same complaint: log
                // a rejection once per distinct error.
                if status.error.as_deref() != Some(message.as_str()) {
                    tracing::error!(error = %message, "policy set rejected; the last good set keeps serving");
                    crate::metrics::policy_reload(crate::metrics::Reload::Rejected);
                }
                *status = ReloadStatus {
                    ok: false,
                    at: crate::model::now_rfc3339(),
                    error: Some(message),
                };
                Err(e)
            }
        }
    }

    pub fn revision(&self) -> String {
        self.current.load().revision.clone()
    }

    pub fn info(&self) -> PolicyInfo {
        let bundle = self.current.load();
        let last_reload = self
            .last_reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        PolicyInfo {
            revision: bundle.revision.clone(),
            loaded_at: bundle.loaded_at.clone(),
            files: bundle.files.clone(),
            last_reload,
            tests: self
                .tests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    /// Where policy `id` is written: `file:line` of its `@id` annotation,
    /// or the file alone for a policy named after its file.
    pub fn policy_location(&self, id: &str) -> Option<String> {
        let bundle = self.current.load();
        let file = bundle
            .files
            .iter()
            .find(|f| f.policy_ids.iter().any(|p| p == id))?;
        let needle = format!("@id(\"{id}\")");
        let line = std::fs::read_to_string(&file.path)
            .ok()
            .and_then(|text| text.lines().position(|l| l.contains(&needle)));
        Some(match line {
            Some(n) => format!("{}:{}", file.path, n + 1),
            None => file.path.clone(),
        })
    }

    /// Validates standalone policy text against the loaded schema.
    pub fn validate_text(&self, text: &str) -> ValidationReport {
        let bundle = self.current.load();
        let (errors, warnings) = load::check_text(&bundle.schema, text);
        ValidationReport {
            valid: errors.is_empty(),
            errors,
            warnings,
        }
    }

    /// The id of `action` when it names an action the current schema
    /// declares, for labelling metrics: `None` for anything else, so a
    /// label never carries arbitrary input.
    pub fn action_label(&self, action: &Value) -> Option<String> {
        let bundle = self.current.load();
        let uid = match action {
            Value::String(s) => parse_plain_uid(&bundle, s),
            _ => None,
        }
        .or_else(|| parse_uid(&bundle, action, "action").ok())?;
        bundle
            .by_action
            .contains_key(&uid)
            .then(|| uid.id().unescaped().to_owned())
    }

    /// Answers one is-authorized question.
    pub fn decide(
        &self,
        snapshot: &Snapshot,
        req: &DecisionRequest,
    ) -> Result<Decision, RequestError> {
        self.decide_until(snapshot, req, Deadline::none())
    }

    /// Answers one is-authorized question, or gives up once `deadline`
    /// has passed.
    pub fn decide_until(
        &self,
        snapshot: &Snapshot,
        req: &DecisionRequest,
        deadline: Deadline,
    ) -> Result<Decision, RequestError> {
        let bundle = self.current.load();
        let mut slice = slice::SliceBuilder::new(snapshot, &self.entity_cache)
            .map_err(RequestError::Invalid)?;
        let host = host_entities(&bundle, req.entities.as_ref(), &mut slice, deadline)?;
        let request = parse_request(
            &bundle,
            &req.principal,
            &req.action,
            &req.resource,
            req.context.as_ref(),
            &mut slice,
        )?;
        let entities = assemble(&bundle, host, slice)?;
        deadline.check()?;
        Ok(self.evaluate(&bundle, &request, &entities, snapshot.revision()))
    }

    /// Answers up to [`MAX_BATCH`] questions sharing one entity list, in order.
    pub fn decide_batch(
        &self,
        snapshot: &Snapshot,
        batch: &BatchRequest,
    ) -> Result<Vec<Decision>, RequestError> {
        self.decide_batch_until(snapshot, batch, Deadline::none())
    }

    /// [`Authz::decide_batch`], giving up once `deadline` has passed. The
    /// entities' hierarchy is built once for every question.
    pub fn decide_batch_until(
        &self,
        snapshot: &Snapshot,
        batch: &BatchRequest,
        deadline: Deadline,
    ) -> Result<Vec<Decision>, RequestError> {
        if batch.requests.is_empty() || batch.requests.len() > MAX_BATCH {
            return Err(RequestError::Invalid(format!(
                "`requests` must hold 1 to {MAX_BATCH} requests, not {}",
                batch.requests.len()
            )));
        }
        let bundle = self.current.load();
        let mut slice = slice::SliceBuilder::new(snapshot, &self.entity_cache)
            .map_err(RequestError::Invalid)?;
        let host = host_entities(&bundle, batch.entities.as_ref(), &mut slice, deadline)?;
        let requests = batch
            .requests
            .iter()
            .enumerate()
            .map(|(index, item)| {
                parse_request(
                    &bundle,
                    &item.principal,
                    &item.action,
                    &item.resource,
                    item.context.as_ref(),
                    &mut slice,
                )
                .map_err(|e| RequestError::BatchItem {
                    index,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let entities = assemble(&bundle, host, slice)?;
        requests
            .iter()
            .map(|r| {
                deadline.check()?;
                Ok(self.evaluate(&bundle, r, &entities, snapshot.revision()))
            })
            .collect()
    }

    /// Authorizes a management call: `actor` as principal, `target` as
    /// resource, the role strings as context. Any error is a Deny.
    pub fn check(
        &self,
        snapshot: &Snapshot,
        actor: &str,
        action: &str,
        target: Target<'_>,
        context: &[(&str, &str)],
    ) -> Decision {
        let resource = match target {
            Target::Org(id) => serde_json::json!({"type": "Organization", "id": id}),
            Target::Workspace(id) => serde_json::json!({"type": "Workspace", "id": id}),
        };
        let context: serde_json::Map<String, Value> = context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        let req = DecisionRequest {
            principal: serde_json::json!({"type": "User", "id": actor}),
            action: serde_json::json!({"type": "Action", "id": action}),
            resource,
            context: Some(Value::Object(context)),
            entities: None,
        };
        self.decide(snapshot, &req).unwrap_or_else(|e| {
            tracing::error!(error = %e, action, "management check could not be evaluated; denying");
            Decision {
                decision: Outcome::Deny,
                reasons: Vec::new(),
                errors: vec![EvalError {
                    policy: String::new(),
                    message: e.to_string(),
                }],
                policy_revision: self.revision(),
                data_revision: snapshot.revision(),
            }
        })
    }

    fn evaluate(
        &self,
        bundle: &load::PolicyBundle,
        request: &Request,
        entities: &Entities,
        data_revision: u64,
    ) -> Decision {
        let policies = request
            .action()
            .and_then(|a| bundle.by_action.get(a))
            .unwrap_or(&bundle.policies);
        let with_grants = role_grants_of(bundle, request, entities).map(|grants| {
            let mut set = policies.clone();
            for policy in grants {
                // Ids are unique across files and roles (checked at load).
                let _ = set.add(policy.clone());
            }
            set
        });
        let policies = with_grants.as_ref().unwrap_or(policies);
        let response = self.authorizer.is_authorized(request, policies, entities);
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| AsRef::<str>::as_ref(id).to_owned())
            .collect();
        reasons.sort();
        let errors = response
            .diagnostics()
            .errors()
            .map(|e| {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = e;
                EvalError {
                    policy: e.policy_id().to_string(),
                    message: e.inner().to_string(),
                }
            })
            .collect();
        Decision {
            decision: match response.decision() {
                cedar_policy::Decision::Allow => Outcome::Allow,
                cedar_policy::Decision::Deny => Outcome::Deny,
            },
            reasons,
            errors,
            policy_revision: bundle.revision.clone(),
            data_revision,
        }
    }
}

/// The generated policies of the custom roles the request's principal
/// holds, for its action; `None` (the common case) when there are none.
fn role_grants_of<'b>(
    bundle: &'b load::PolicyBundle,
    request: &Request,
    entities: &Entities,
) -> Option<Vec<&'b cedar_policy::Policy>> {
    if bundle.role_grants.is_empty() {
        return None;
    }
    let action = request.action()?;
    let grants: Vec<&cedar_policy::Policy> = entities
        .ancestors(request.principal()?)?
        .filter_map(|group| bundle.role_grants.get(group))
        .filter_map(|by_action| by_action.get(action))
        .flatten()
        .collect();
    (!grants.is_empty()).then_some(grants)
}

/// How many failures a rejected set's error names.
const FAILURES_SHOWN: usize = 5;

fn run_gate(gate: &Gate, candidate: &Authz) -> Result<Option<TestStatus>, LoadError> {
    let tests = gate(candidate).map_err(|summary| LoadError::TestsFailed { summary })?;
    match tests {
        Some(t) if t.failed > 0 => {
            let mut summary = format!("{} of {} checks failed", t.failed, t.checks);
            for line in t.failures.iter().take(FAILURES_SHOWN) {
                summary.push('\n');
                summary.push_str(line);
            }
            Err(LoadError::TestsFailed { summary })
        }
        other => Ok(other),
    }
}

/// An entity uid in object (`{"type", "id"}`) or string (`User::"alice"`) form.
fn parse_uid(
    bundle: &load::PolicyBundle,
    value: &Value,
    what: &str,
) -> Result<EntityUid, RequestError> {
    match value {
        Value::String(s) => EntityUid::from_str(s).map_err(|e| invalid(what, e)),
        Value::Object(map) => {
            // Fast path for the plain `{"type", "id"}` form of a known type;
            // everything else goes through Cedar's own parser.
            if let Some((kind, id)) = plain_type_and_id(map) {
                if let Some(name) = bundle.types.get(kind) {
                    return Ok(EntityUid::from_type_name_and_id(
                        name.clone(),
                        EntityId::new(id),
                    ));
                }
            }
            EntityUid::from_json(value.clone()).map_err(|e| invalid(what, e))
        }
        _ => Err(RequestError::Invalid(format!(
            "{what}: expected an object {{\"type\", \"id\"}} or a string like `User::\"alice\"`"
        ))),
    }
}

/// The strings of an object that is exactly `{"type": "…", "id": "…"}`.
/// Walks the two entries instead of looking them up: the JSON map keeps
/// insertion order and hashes every key looked up, which showed in profiles.
pub(crate) fn plain_type_and_id(map: &serde_json::Map<String, Value>) -> Option<(&str, &str)> {
    if map.len() != 2 {
        return None;
    }
    let (mut kind, mut id) = (None, None);
    for (key, value) in map {
        match (key.as_str(), value) {
            ("type", Value::String(s)) => kind = Some(s.as_str()),
            ("id", Value::String(s)) => id = Some(s.as_str()),
            _ => return None,
        }
    }
    kind.zip(id)
}

/// `Type::"id"` of a known type with a plain id (no escapes), without
/// Cedar's parser; `None` sends the text to the full parser.
fn parse_plain_uid(bundle: &load::PolicyBundle, text: &str) -> Option<EntityUid> {
    let (kind, rest) = text.split_once("::\"")?;
    let id = rest.strip_suffix('"')?;
    if id.contains(['"', '\\']) {
        return None;
    }
    let name = bundle.types.get(kind)?;
    Some(EntityUid::from_type_name_and_id(
        name.clone(),
        EntityId::new(id),
    ))
}

fn parse_request(
    bundle: &load::PolicyBundle,
    principal: &Value,
    action: &Value,
    resource: &Value,
    context: Option<&Value>,
    slice: &mut slice::SliceBuilder<'_>,
) -> Result<Request, RequestError> {
    let principal = parse_uid(bundle, principal, "principal")?;
    bounds::check_sidecar_id(&principal, "principal")?;
    let action = parse_uid(bundle, action, "action")?;
    let resource = parse_uid(bundle, resource, "resource")?;
    bounds::check_sidecar_id(&resource, "resource")?;
    let context = match context {
        None | Some(Value::Null) => None,
        Some(value @ Value::Object(_)) => {
            slice.want_refs_in(value);
            Some(value)
        }
        Some(_) => return Err(RequestError::Invalid("context: expected an object".into())),
    };
    slice.want(&principal);
    slice.want(&resource);
    bundle
        .parsed
        .request(&bundle.schema, principal, action, resource, context)
}

/// Parses the request's own entities after checking they claim nothing the
/// sidecar owns, and asks the slice for the sidecar entities they name.
fn host_entities(
    bundle: &load::PolicyBundle,
    entities: Option<&Value>,
    slice: &mut slice::SliceBuilder<'_>,
    deadline: Deadline,
) -> Result<Vec<ast::Entity>, RequestError> {
    let items = match entities {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(RequestError::Invalid("entities: expected an array".into())),
    };
    if items.len() > MAX_REQUEST_ENTITIES {
        return Err(RequestError::Invalid(format!(
            "entities: at most {MAX_REQUEST_ENTITIES} entities per request, not {}",
            items.len()
        )));
    }
    let links = bounds::weight(entities) - items.len();
    if links > MAX_REQUEST_PARENTS {
        return Err(RequestError::Invalid(format!(
            "entities: at most {MAX_REQUEST_PARENTS} parent links in all per request, not {links}"
        )));
    }
    // A text parsed before passed the checks below then, and they depend on
    // the text alone: only new texts are checked (and parsed).
    let known: Vec<(Option<String>, Option<Arc<memo::ParsedEntity>>)> = items
        .iter()
        .map(|item| {
            let text = memo::text(item);
            let hit = bundle.parsed.known_entity(text.as_deref());
            (text, hit)
        })
        .collect();
    for (item, _) in items
        .iter()
        .zip(&known)
        .filter(|(_, (_, hit))| hit.is_none())
    {
        let uid = item
            .get("uid")
            .ok_or_else(|| RequestError::Invalid("entities: every entity needs a `uid`".into()))
            .and_then(|u| parse_uid(bundle, u, "entities: uid"))?;
        if is_sidecar_type(uid.type_name()) {
            return Err(RequestError::ReservedEntity(uid.to_string()));
        }
        if let Some(Value::Array(parents)) = item.get("parents") {
            for parent in parents {
                let parent = parse_uid(bundle, parent, "entities: parent")?;
                if slice::is_role_type(parent.type_name()) {
                    return Err(RequestError::ReservedParent(uid.to_string()));
                }
            }
        }
    }
    // One entity at a time: parsing the list as `Entities` with a schema
    // would also rebuild every action entity of the schema per request.
    // Parsed with the schema, each entity is also checked against it (as
    // `cedar_policy::Entity::from_json_value` does), so the store does not
    // check it again; the core parser hands the entity over without a copy.
    let schema = CoreSchema::new(bundle.schema.as_ref());
    let parser = EntityJsonParser::new(
        Some(&schema),
        Extensions::all_available(),
        TCComputation::ComputeNow,
    );
    items
        .iter()
        .zip(known)
        .map(|(item, (text, hit))| {
            deadline.check()?;
            let parsed = match hit {
                Some(parsed) => parsed,
                None => {
                    let mut refs = Vec::new();
                    slice.refs_in(item, &mut refs);
                    let entity = parser
                        .single_from_json_value(item.clone())
                        .map_err(|e| invalid("entities", e))?;
                    let parsed = Arc::new(memo::ParsedEntity { entity, refs });
                    if let Some(text) = text {
                        bundle.parsed.keep_entity(text, parsed.clone());
                    }
                    parsed
                }
            };
            slice.want_all(&parsed.refs);
            Ok(parsed.entity.clone())
        })
        .collect()
}

/// The request's entities, checked against the schema when parsed, plus the
/// sidecar's slice, built in the schema's shape (checked once at load).
fn assemble(
    bundle: &load::PolicyBundle,
    host: Vec<ast::Entity>,
    mut slice: slice::SliceBuilder<'_>,
) -> Result<Entities, RequestError> {
    slice.want_all(&bundle.named);
    let sidecar = slice.build().map_err(RequestError::Invalid)?;
    assemble::store(&bundle.actions, sidecar, host).map_err(|e| invalid("entities", e))
}

#[cfg(test)]
mod tests;
