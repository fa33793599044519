//! Loading a policy set and its schema from folders, as one unit: every file
//! parses, every policy id is unique, the whole set validates against the
//! schema, or nothing of it is used.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Schema,
    SchemaFragment, ValidationMode, Validator,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::diagnostics::Problem;
use super::slice;

/// Largest policy or schema file read (a guard against pointing the
/// sidecar at the wrong folder).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Most files read from one folder.
pub const MAX_FILES: usize = 1000;

const POLICY_EXT: &str = "cedar";
const SCHEMA_EXT: &str = "cedarschema";
const SCHEMA_JSON_SUFFIX: &str = ".cedarschema.json";

/// Why a policy set could not be loaded. The set is rejected whole.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("`{dir}` holds more than {MAX_FILES} files")]
    TooManyFiles { dir: PathBuf },
    #[error("no policy files (*.cedar) in `{dir}`")]
    NoPolicies { dir: PathBuf },
    #[error("no schema files (*.cedarschema, *.cedarschema.json) in `{dir}`")]
    NoSchema { dir: PathBuf },
    #[error("{}", join(.0))]
    Invalid(Vec<Problem>),
    /// The set is valid but its own test files do not pass.
    #[error("policy tests failed: {summary}")]
    TestsFailed { summary: String },
}

impl LoadError {
    /// The individual problems, for reports that list them.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Invalid(problems) => problems.clone(),
            other => vec![Problem::new(other.to_string())],
        }
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One policy file and the ids of the policies it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PolicyFile {
    pub path: String,
    pub policy_ids: Vec<String>,
}

/// A loaded, validated policy set with its schema.
#[derive(Debug)]
pub struct PolicyBundle {
    pub(super) policies: PolicySet,
    pub(super) schema: Schema,
    /// The action entities of the schema, computed once per set; empty when
    /// the schema has no action groups (then no policy needs them).
    pub(super) actions: Entities,
    /// For each action of the schema, only the policies whose action scope
    /// can match it: the others could neither apply nor fail, so leaving
    /// them out changes no answer and saves evaluating them.
    pub(super) by_action: HashMap<EntityUid, PolicySet>,
    /// Every type name of the schema, parsed.
    pub(super) types: HashMap<String, EntityTypeName>,
    /// Request parts already parsed with this schema.
    pub(super) parsed: super::memo::ParseCache,
    /// The policies of the files alone, to add the custom roles' policies to.
    pub(super) file_policies: PolicySet,
    /// The revision of the files alone.
    pub(super) file_revision: String,
    /// The actions custom roles may hold (`@grantable` in the schema).
    pub(super) grantable: Vec<super::roles::Grantable>,
    /// The custom roles' generated policies, by role group and action: a
    /// decision adds only those of the groups its principal is in, so its
    /// cost does not grow with the number of custom roles (`by_action`
    /// holds the file policies alone).
    pub(super) role_grants: super::roles::RoleGrantIndex,
    /// The custom roles laid on the files, by organization, each with its
    /// generated (and validated) policies.
    pub(super) custom_roles: super::roles::OrgParts,
    /// The sidecar entities the file policies name (`Organization::"platform"`
    /// in `principal in Organization::"platform".admins`): every decision's
    /// slice holds them, as Cedar over the whole database would. Their
    /// number is bounded by the policy text, not by the data.
    pub(super) named: Vec<EntityUid>,
    /// Of the files, and of the custom roles when there are any.
    pub revision: String,
    pub loaded_at: String,
    pub files: Vec<PolicyFile>,
    pub warnings: Vec<Problem>,
}

/// A source file: its display path and text.
struct Source {
    path: String,
    text: String,
}

/// Loads and validates the set in `policies_dir` against the schema in `schema_dir`.
pub fn load_dirs(policies_dir: &Path, schema_dir: &Path) -> Result<PolicyBundle, LoadError> {
    let policy_files = read_dir(policies_dir, |name| has_ext(name, POLICY_EXT))?;
    if policy_files.is_empty() {
        return Err(LoadError::NoPolicies {
            dir: policies_dir.to_owned(),
        });
    }
    let schema_files = read_dir(schema_dir, |name| {
        has_ext(name, SCHEMA_EXT) || name.ends_with(SCHEMA_JSON_SUFFIX)
    })?;
    if schema_files.is_empty() {
        return Err(LoadError::NoSchema {
            dir: schema_dir.to_owned(),
        });
    }
    let revision = revision(&schema_files, &policy_files);
    let (schema, fragments) = parse_schema(&schema_files)?;
    let grantable = super::roles::grantable(&schema, &fragments)?;
    let parsed = parse_policies(&policy_files)?;
    let warnings = validate(&schema, &parsed, &policy_files)?;
    let has_groups = schema.action_groups().next().is_some();
    let actions = if has_groups {
        schema
            .action_entities()
            .map_err(|e| LoadError::Invalid(vec![Problem::new(format!("schema actions: {e}"))]))?
    } else {
        Entities::empty()
    };
    let by_action = index_by_action(&schema, &parsed.set)?;
    let named = named_entities(&parsed.set);
    let types = type_names(&schema);
    slice::check_schema_shape(&schema)
        .map_err(|message| LoadError::Invalid(vec![Problem::new(message)]))?;
    Ok(PolicyBundle {
        file_policies: parsed.set.clone(),
        policies: parsed.set,
        schema,
        actions,
        by_action,
        types,
        parsed: super::memo::ParseCache::default(),
        file_revision: revision.clone(),
        role_grants: super::roles::RoleGrantIndex::default(),
        custom_roles: super::roles::OrgParts::default(),
        named,
        grantable,
        revision,
        loaded_at: crate::model::now_rfc3339(),
        files: parsed.files,
        warnings,
    })
}

/// The sidecar-owned entities that `set` names as literals, once each.
/// (Only file policies: the generated ones name their own organization and
/// role group in `in` scopes, which need no entity.)
fn named_entities(set: &PolicySet) -> Vec<EntityUid> {
    let mut seen = HashSet::new();
    set.policies()
        .flat_map(Policy::entity_literals)
        .filter(|uid| slice::is_sidecar_type(uid.type_name()))
        .filter(|uid| seen.insert(uid.clone()))
        .collect()
}

/// The parsed name of every entity type of the schema (actions' types
/// included), so the hot path never re-parses a type name.
fn type_names(schema: &Schema) -> HashMap<String, EntityTypeName> {
    schema
        .entity_types()
        .cloned()
        .chain(schema.actions().map(|a| a.type_name().clone()))
        .map(|t| (t.to_string(), t))
        .collect()
}

/// The policies each action of the schema can trigger. A policy whose
/// action scope names an action group is kept for every action (groups are
/// resolved by the evaluator), so the index never drops a relevant policy.
fn index_by_action(
    schema: &Schema,
    set: &PolicySet,
) -> Result<HashMap<EntityUid, PolicySet>, LoadError> {
    let groups: HashSet<&EntityUid> = schema.action_groups().collect();
    let mut index = HashMap::new();
    for action in schema.actions() {
        let mut subset = PolicySet::new();
        for policy in set.policies() {
            let applies = match policy.action_constraint() {
                ActionConstraint::Eq(a) => &a == action || groups.contains(&a),
                ActionConstraint::In(list) => {
                    list.iter().any(|a| a == action || groups.contains(a))
                }
                _ => true,
            };
            if applies {
                subset
                    .add(policy.clone())
                    .map_err(|e| LoadError::Invalid(vec![Problem::new(e.to_string())]))?;
            }
        }
        index.insert(action.clone(), subset);
    }
    Ok(index)
}

/// Parses and validates standalone policy text against `schema` (for
/// `POST /v1/policies/validate`). Returns errors and warnings.
pub fn check_text(schema: &Schema, text: &str) -> (Vec<Problem>, Vec<Problem>) {
    let sources = [Source {
        path: "<request>".to_owned(),
        text: text.to_owned(),
    }];
    let parsed = match parse_policies(&sources) {
        Ok(parsed) => parsed,
        Err(e) => return (e.problems(), Vec::new()),
    };
    match validate(schema, &parsed, &sources) {
        Ok(warnings) => (Vec::new(), warnings),
        Err(e) => (e.problems(), Vec::new()),
    }
}

fn has_ext(name: &str, ext: &str) -> bool {
    Path::new(name).extension().is_some_and(|e| e == ext)
}

/// The policy files (`*.cedar`) of `dir`, as the loader sees them.
pub fn policy_paths(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    list_dir(dir, |name| has_ext(name, POLICY_EXT))
}

/// Reads `path`, refusing files larger than [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<String, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    if fs::metadata(path).map_err(io)?.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_owned(),
        });
    }
    fs::read_to_string(path).map_err(io)
}

/// Reads the matching files of `dir`, sorted by name.
fn read_dir(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<Source>, LoadError> {
    list_dir(dir, wanted)?
        .into_iter()
        .map(|path| {
            let text = read_file(&path)?;
            Ok(Source {
                path: path.display().to_string(),
                text,
            })
        })
        .collect()
}

/// The matching files of `dir` (not its subfolders; hidden entries such as
/// Kubernetes' `..data` are skipped), sorted by name.
fn list_dir(dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || !wanted(name) || !path.is_file() {
            continue;
        }
        paths.push(path);
        if paths.len() > MAX_FILES {
            return Err(LoadError::TooManyFiles {
                dir: dir.to_owned(),
            });
        }
    }
    paths.sort();
    Ok(paths)
}

/// `sha256:` of every file name and content, schema first.
fn revision(schema: &[Source], policies: &[Source]) -> String {
    let mut hasher = Sha256::new();
    for source in schema.iter().chain(policies) {
        let name = Path::new(&source.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((source.text.len() as u64).to_le_bytes());
        hasher.update(source.text.as_bytes());
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

fn parse_schema(files: &[Source]) -> Result<(Schema, Vec<SchemaFragment>), LoadError> {
    let mut fragments = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        if file.path.ends_with(SCHEMA_JSON_SUFFIX) {
            match SchemaFragment::from_json_str(&file.text) {
                Ok(f) => fragments.push(f),
                Err(e) => problems.push(Problem::from_diagnostic(&e, Some(&file.path), &file.text)),
            }
        } else {
            match SchemaFragment::from_cedarschema_str(&file.text) {
                Ok((f, _warnings)) => fragments.push(f),
                Err(e) => problems.push(Problem::from_diagnostic(&e, Some(&file.path), &file.text)),
            }
        }
    }
    if !problems.is_empty() {
        return Err(LoadError::Invalid(problems));
    }
    // Fragments are kept for their annotations, which `Schema` drops; the
    // texts are parsed again since `SchemaFragment` is not `Clone`.
    let kept = files
        .iter()
        .filter_map(|file| {
            if file.path.ends_with(SCHEMA_JSON_SUFFIX) {
                SchemaFragment::from_json_str(&file.text).ok()
            } else {
                SchemaFragment::from_cedarschema_str(&file.text)
                    .ok()
                    .map(|(f, _)| f)
            }
        })
        .collect();
    let schema = Schema::from_schema_fragments(fragments)
        .map_err(|e| LoadError::Invalid(vec![Problem::from_diagnostic(&e, Some("schema"), "")]))?;
    Ok((schema, kept))
}

/// A parsed policy set, with where each policy came from.
struct Parsed {
    set: PolicySet,
    files: Vec<PolicyFile>,
    /// Policy id → index of its source file.
    origin: HashMap<String, usize>,
}

/// Parses every file; each policy gets its `@id` annotation as id, or
/// `<file stem>.<index>` when it has none.
fn parse_policies(files: &[Source]) -> Result<Parsed, LoadError> {
    let mut set = PolicySet::new();
    let mut listed = Vec::new();
    let mut problems = Vec::new();
    let mut origin: HashMap<String, usize> = HashMap::new();
    for (file_index, file) in files.iter().enumerate() {
        let parsed = match PolicySet::from_str(&file.text) {
            Ok(p) => p,
            Err(e) => {
                problems.push(Problem::from_diagnostic(&e, Some(&file.path), &file.text));
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            problems.push(Problem::new(format!(
                "`{}`: policy templates are not supported in policy files",
                file.path
            )));
            continue;
        }
        let stem = Path::new(&file.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Cedar numbers policies in source order: keep that order.
        let mut policies: Vec<&Policy> = parsed.policies().collect();
        policies.sort_by_key(|p| policy_index(p.id()));
        let mut ids = Vec::new();
        for (index, policy) in policies.into_iter().enumerate() {
            let id = policy
                .annotation("id")
                .map_or_else(|| format!("{stem}.{index}"), str::to_owned);
            if let Some(first) = origin.get(&id).and_then(|&i| files.get(i)) {
                problems.push(Problem::new(format!(
                    "`{}`: policy id `{id}` is already used in `{}`",
                    file.path, first.path
                )));
                continue;
            }
            origin.insert(id.clone(), file_index);
            if let Err(e) = set.add(policy.new_id(PolicyId::new(&id))) {
                problems.push(Problem::new(format!("`{}`: {e}", file.path)).with_policy(&id));
                continue;
            }
            ids.push(id);
        }
        listed.push(PolicyFile {
            path: file.path.clone(),
            policy_ids: ids,
        });
    }
    if problems.is_empty() {
        Ok(Parsed {
            set,
            files: listed,
            origin,
        })
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Cedar names parsed policies `policy0`, `policy1`, …
fn policy_index(id: &PolicyId) -> usize {
    id.to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Strict validation of the whole set. Errors reject it; warnings are returned.
fn validate(schema: &Schema, parsed: &Parsed, files: &[Source]) -> Result<Vec<Problem>, LoadError> {
    let result = Validator::new(schema.clone()).validate(&parsed.set, ValidationMode::Strict);
    // A policy's source spans are offsets into the file it came from.
    let locate = |id: &PolicyId, diag: &dyn miette::Diagnostic| {
        let file = parsed
            .origin
            .get(AsRef::<str>::as_ref(id))
            .and_then(|&i| files.get(i));
        match file {
            Some(f) => Problem::from_diagnostic(diag, Some(&f.path), &f.text),
            None => Problem::from_diagnostic(diag, None, ""),
        }
        .with_policy(AsRef::<str>::as_ref(id))
    };
    let errors: Vec<Problem> = result
        .validation_errors()
        .map(|e| locate(e.policy_id(), e))
        .collect();
    let warnings = result
        .validation_warnings()
        .map(|w| locate(w.policy_id(), w))
        .collect();
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(LoadError::Invalid(errors))
    }
}
