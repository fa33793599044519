//! The input rules the handlers enforce (id syntax, roles, lengths, list
//! sizes), written into the generated document so that clients, and API
//! fuzzers, know what a valid request is. One place, applied to the JSON
//! after generation, instead of an attribute on every parameter.

use serde_json::{json, Value};

/// The id syntax of API.md: 1–128 characters of `[A-Za-z0-9._:@-]`.
const ID_PATTERN: &str = "^[A-Za-z0-9._:@-]{1,128}$";
/// The Basic Multilingual Plane part of `model::text`'s hidden characters,
/// as a regular expression class body.
macro_rules! hidden {
    () => {
        concat!(
            "\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u034F\\u0600-\\u0605\\u061C\\u06DD",
            "\\u070F\\u0890-\\u0891\\u08E2\\u115F-\\u1160\\u17B4-\\u17B5\\u180B-\\u180F",
            "\\u200B-\\u200F\\u2028-\\u202E\\u2060-\\u206F\\u3164\\uFE00-\\uFE0F\\uFEFF",
            "\\uFFA0\\uFFF0-\\uFFFB"
        )
    };
}

/// A display name: not blank, no control, format (bidi, zero-width) or
/// other invisible character (`model::text`; the few such characters
/// outside the Basic Multilingual Plane are left to the description).
const NAME_PATTERN: &str = concat!(
    "^[^",
    hidden!(),
    "]*[^\\s",
    hidden!(),
    "][^",
    hidden!(),
    "]*$"
);

const NAME_DESCRIPTION: &str = "1-200 characters, trimmed, not blank; no control characters, no format characters (Unicode Cf: bidi overrides, isolates and marks, zero-width spaces and joiners, BOM, tags), no other default-ignorable characters (variation selectors, Hangul fillers), no line or paragraph separators. A custom role's name may not fold (NFKC, lowercase) to a built-in role's.";

const EMAIL_DESCRIPTION: &str = "Stored and compared trimmed, with only ASCII A-Z lowercased. Refused: an address not in Unicode NFKC form (e.g. the Kelvin sign U+212A, fullwidth letters), with whitespace or invisible characters, or with a non-ASCII domain (use the `xn--` form).";

fn id_schema() -> Value {
    json!({"type": "string", "pattern": ID_PATTERN, "minLength": 1, "maxLength": 128})
}

/// An id naming a user: `system` is reserved for system calls.
fn user_id_schema() -> Value {
    let mut schema = id_schema();
    schema["not"] = json!({"const": crate::model::SYSTEM_ACTOR});
    schema["description"] = json!("a user id; `system` is reserved for system calls and refused");
    schema
}

fn email_schema() -> Value {
    json!({"type": "string", "format": "email", "minLength": 3, "maxLength": 254, "description": EMAIL_DESCRIPTION})
}

/// Request bodies whose `role` is an organization role.
const ORG_ROLE_BODIES: [&str; 3] = ["AddMember", "ChangeRole", "NewInvite"];
/// Request bodies carrying an email address.
const EMAIL_BODIES: [&str; 4] = ["AddMember", "NewInvite", "NewOwner", "Invitee"];
/// Request bodies carrying a display name.
const NAME_BODIES: [&str; 4] = ["CreateOrg", "CreateWorkspace", "NewRole", "UpdateOrg"];
/// `(body, property, optional, user)` holding an id; optional ones stay
/// nullable (the server generates one, or takes the actor); user ones
/// refuse the reserved `system`.
const ID_PROPERTIES: [(&str, &str, bool, bool); 5] = [
    ("CreateOrg", "id", true, false),
    ("CreateWorkspace", "id", true, false),
    ("NewOwner", "id", true, true),
    ("Invitee", "id", false, true),
    ("Transfer", "to", false, true),
];

pub fn apply(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    params.iter_mut().for_each(parameter);
                }
            }
        }
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut set = |body: &str, property: &str, schema: Value| {
        if let Some(slot) = schemas
            .get_mut(body)
            .and_then(|b| b.get_mut("properties"))
            .and_then(|p| p.get_mut(property))
        {
            *slot = schema;
        }
    };
    for body in ORG_ROLE_BODIES {
        set(body, "role", org_role_schema());
    }
    set(
        "NewRole",
        "key",
        json!({"type": ["string", "null"], "pattern": ROLE_KEY_PATTERN, "maxLength": 64}),
    );
    set(
        "SetMember",
        "role",
        json!({"$ref": "#/components/schemas/WorkspaceRole"}),
    );
    for body in EMAIL_BODIES {
        set(body, "email", email_schema());
    }
    for body in NAME_BODIES {
        set(
            body,
            "name",
            json!({"type": "string", "pattern": NAME_PATTERN, "minLength": 1, "maxLength": 200, "description": NAME_DESCRIPTION}),
        );
    }
    for (body, property, optional, user) in ID_PROPERTIES {
        let mut schema = if user { user_id_schema() } else { id_schema() };
        if optional {
            schema["type"] = json!(["string", "null"]);
        }
        set(body, property, schema);
    }
    set(
        "CreateInvites",
        "invites",
        json!({"type": "array", "items": {"$ref": "#/components/schemas/NewInvite"}, "minItems": 1, "maxItems": 100}),
    );
    set(
        "CreateInvites",
        "expires_in_days",
        json!({"type": ["integer", "null"], "minimum": 1, "maximum": 30}),
    );
    set(
        "BatchRequest",
        "requests",
        json!({"type": "array", "items": {"$ref": "#/components/schemas/BatchItem"}, "minItems": 1, "maxItems": 100}),
    );
}

/// A custom role's key (built-in names are refused when creating one).
const ROLE_KEY_PATTERN: &str = "^[a-z][a-z0-9_-]{0,63}$";

/// A role an organization member or invite holds: built-in or custom.
fn org_role_schema() -> Value {
    json!({
        "type": "string",
        "pattern": ROLE_KEY_PATTERN,
        "description": "`owner`, `admin`, `accounting`, `member`, or the key of one of the organization's custom roles",
        "examples": ["admin", "developer"],
    })
}

/// Path ids, the actor header, page sizes and role filters.
fn parameter(param: &mut Value) {
    let (Some(name), Some(place)) = (
        param.get("name").and_then(Value::as_str),
        param.get("in").and_then(Value::as_str),
    ) else {
        return;
    };
    let schema = match (place, name) {
        ("header", "X-Actor-Id") => user_id_schema(),
        ("path", _) => id_schema(),
        ("query", "limit") => json!({"type": "integer", "minimum": 1, "maximum": 200}),
        ("query", "role") => org_role_schema(),
        ("query", "email") => email_schema(),
        ("query", "status") => json!({"$ref": "#/components/schemas/InviteStatus"}),
        _ => return,
    };
    param["schema"] = schema;
}
