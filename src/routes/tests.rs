use serde_json::json;

use super::*;

const FILE: &str = r#"
routes:
  - method: GET
    path: /orgs/{org}/workspaces/{ws}/notes/{note}
    action: document.read
    resource:
      type: Document
      id: "{note}"
      parents: [{type: Workspace, id: "{ws}"}]
      attrs:
        workspace: {type: Workspace, id: "{ws}"}
        title: "note {note} of {org}"
  - method: put
    path: /orgs/{_org}/workspaces/{ws}/notes/{note}
    action: document.edit
    resource: {type: Document, id: "{ws}/{note}"}
  - method: "*"
    path: /orgs/{org}/billing
    action: billing.read
    resource: {type: Organization, id: "{org}"}
  - method: "*"
    path: /orgs/{org}/{_anything}
    action: org.read
    resource: {type: Organization, id: "{org}"}
"#;

fn table() -> Table {
    Table::parse(FILE).unwrap()
}

#[test]
fn a_route_fills_the_resource_and_its_host_entity_from_the_path() {
    let r = table()
        .resolve("GET", "/orgs/acme/workspaces/w1/notes/n%2D1?x=1", None)
        .unwrap();
    assert_eq!(r.route, 0);
    assert_eq!(r.action, "document.read");
    assert_eq!(r.resource, json!({"type": "Document", "id": "n-1"}));
    assert_eq!(
        r.entities.unwrap(),
        json!([{
            "uid": {"type": "Document", "id": "n-1"},
            "attrs": {"title": "note n-1 of acme", "workspace": {"type": "Workspace", "id": "w1"}},
            "parents": [{"type": "Workspace", "id": "w1"}],
        }])
    );
    let req = table()
        .resolve("PUT", "/orgs/acme/workspaces/w1/notes/n1", None)
        .unwrap()
        .request("mia");
    assert_eq!(req.principal, json!({"type": "User", "id": "mia"}));
    assert_eq!(req.action, json!({"type": "Action", "id": "document.edit"}));
    assert_eq!(req.resource, json!({"type": "Document", "id": "w1/n1"}));
}

#[test]
fn sidecar_resources_get_no_entity_and_any_method_matches_a_star() {
    for method in ["GET", "POST", "delete"] {
        let r = table().resolve(method, "/orgs/acme/billing", None).unwrap();
        assert_eq!(r.route, 2);
        assert_eq!(r.resource, json!({"type": "Organization", "id": "acme"}));
        assert_eq!(r.entities, None);
    }
}

#[test]
fn the_first_matching_route_wins_and_get_routes_answer_head() {
    // `/orgs/{org}/{_anything}` would match too, but comes later.
    assert_eq!(
        table()
            .resolve("PUT", "/orgs/a/billing", None)
            .unwrap()
            .route,
        2
    );
    assert_eq!(
        table().resolve("PUT", "/orgs/a/other", None).unwrap().route,
        3
    );
    let head = table()
        .resolve("HEAD", "/orgs/a/workspaces/w/notes/n", None)
        .unwrap();
    assert_eq!(head.action, "document.read");
    // No route for DELETE on a note: the catch-all has 4 segments only.
    assert_eq!(
        table().resolve("DELETE", "/orgs/a/workspaces/w/notes/n", None),
        Err(Refusal::NoRoute {
            method: "DELETE".into(),
            path: "/orgs/a/workspaces/w/notes/n".into()
        })
    );
}

#[test]
fn paths_that_could_be_read_differently_match_nothing() {
    let t = table();
    for uri in [
        "/orgs/a/workspaces/w/notes/..",
        "/orgs/a/workspaces/w/notes/%2e%2E",
        "/orgs/a/workspaces/w/notes/.",
        "/orgs/a//billing",
        "/orgs/a/billing/",
        "/orgs/a%2Fb/billing",
        "/orgs/a%5cb/billing",
        "/orgs/a%00/billing",
        "/orgs/%zz/billing",
        "/orgs/%ff/billing",
        "/orgs/a%2/billing",
        "orgs/a/billing",
        "http://host/orgs/a/billing",
        "",
    ] {
        assert!(
            matches!(t.resolve("GET", uri, None), Err(Refusal::InvalidPath(_))),
            "{uri} was not refused: {:?}",
            t.resolve("GET", uri, None)
        );
    }
    let long = format!("/orgs/{}/billing", "a".repeat(MAX_SEGMENT_BYTES + 1));
    assert!(matches!(
        t.resolve("GET", &long, None),
        Err(Refusal::InvalidPath(_))
    ));
    let huge = format!("/{}", "a/".repeat(MAX_PATH_BYTES));
    assert!(matches!(
        t.resolve("GET", &huge, None),
        Err(Refusal::InvalidPath(_))
    ));
    // Query strings never take part in matching.
    assert!(t.resolve("GET", "/orgs/a/billing?/../x", None).is_ok());
}

#[test]
fn a_bad_route_rejects_the_whole_file_naming_it() {
    let cases = [
        ("routes: [", "invalid YAML"),
        ("routes:\n  - {method: GET, path: /a, action: x, resource: {type: T, id: i}, extra: 1}", "unknown field"),
        ("routes:\n  - {method: GE T, path: /a, action: x, resource: {type: T, id: i}}", "not an HTTP method"),
        ("routes:\n  - {method: GET, path: a, action: x, resource: {type: T, id: i}}", "start with"),
        ("routes:\n  - {method: GET, path: /a//b, action: x, resource: {type: T, id: i}}", "empty segment"),
        ("routes:\n  - {method: GET, path: \"/a/{b}/{b}\", action: x, resource: {type: T, id: i}}", "appears twice"),
        ("routes:\n  - {method: GET, path: \"/a/x{b}\", action: x, resource: {type: T, id: i}}", "whole"),
        ("routes:\n  - {method: GET, path: \"/a/{b}\", action: x, resource: {type: T, id: \"{c}\"}}", "not a segment"),
        ("routes:\n  - {method: GET, path: \"/a/{b}\", action: x, resource: {type: T, id: \"{b\"}}", "unbalanced"),
        ("routes:\n  - {method: GET, path: \"/a/{b}\", action: x, resource: {type: \"T-1\", id: i}}", "entity type"),
        ("routes:\n  - {method: GET, path: \"/a/{b}\", action: x, resource: {type: Workspace, id: \"{b}\", parents: [{type: Organization, id: o}]}}", "built by the sidecar"),
    ];
    for (text, expected) in cases {
        let err = Table::parse(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}\n=> {err}");
    }
    let second = "routes:\n  - {method: GET, path: /a, action: x, resource: {type: T, id: i}}\n  - {method: GET, path: \"/b/{x}\", action: y, resource: {type: T, id: \"{y}\"}}";
    let err = Table::parse(second).unwrap_err().to_string();
    assert!(err.starts_with("route 2:"), "{err}");
    let many = format!(
        "routes:\n{}",
        "  - {method: GET, path: /a, action: x, resource: {type: T, id: i}}\n"
            .repeat(MAX_ROUTES + 1)
    );
    assert!(matches!(Table::parse(&many), Err(RoutesError::TooMany(_))));
}

#[test]
fn the_holder_keeps_the_last_good_file_and_maps_nothing_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let routes = Routes::load(&path, None).unwrap();
    assert!(!routes.info().present);
    assert!(matches!(
        routes.resolve("GET", "/orgs/a/billing", None),
        Err(Refusal::NoFile(_))
    ));

    std::fs::write(&path, FILE).unwrap();
    routes.reload().unwrap();
    let info = routes.info();
    assert!(info.present && info.last_reload.ok);
    assert_eq!(info.routes.len(), 4);
    assert_eq!(info.routes[1].method, "PUT");
    assert!(routes.resolve("GET", "/orgs/a/billing", None).is_ok());

    std::fs::write(&path, "routes: [{method: GET}]").unwrap();
    assert!(routes.reload().is_err());
    let info = routes.info();
    assert!(!info.last_reload.ok);
    assert!(info.last_reload.error.unwrap().contains("routes.yaml"));
    assert_eq!(info.routes.len(), 4, "the last good file keeps serving");
    assert!(routes.resolve("GET", "/orgs/a/billing", None).is_ok());

    std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
    assert!(matches!(routes.reload(), Err(RoutesError::TooLarge(_))));
    std::fs::write(&path, "not: [routes").unwrap();
    assert!(
        Routes::load(&path, None).is_err(),
        "a bad file refuses to start"
    );
}

/// The routes of the forward-auth differentials: a protected literal page
/// before a catch-all.
const ADMIN: &str = r#"
routes:
  - {method: GET, path: "/orgs/{org}/admin", action: org.update, resource: {type: Organization, id: "{org}"}}
  - {method: "*", path: "/orgs/{org}/{_page}", action: org.read, resource: {type: Organization, id: "{org}"}}
"#;

#[test]
fn paths_a_backend_could_serve_as_a_protected_page_match_nothing() {
    let t = Table::parse(ADMIN).unwrap();
    assert_eq!(t.resolve("GET", "/orgs/acme/admin", None).unwrap().route, 0);
    assert_eq!(
        t.resolve("GET", "/orgs/acme/public", None).unwrap().route,
        1
    );
    for uri in [
        "/orgs/acme/admin;x=1",
        "/orgs/acme/admin%3B",
        "/orgs/acme/public#/../admin",
        "/orgs/acme/%2561dmin",
        "/orgs/acme/ADMIN",
        "/orgs/acme/Admin",
        "/ORGS/acme/public",
        "/orgs/acme/admin.",
        "/orgs/acme/admin%2E",
        "/orgs/acme/admin%20",
        "/orgs/acme/admin%09",
        "/orgs/acme/%E2%80%8Badmin",
        "/orgs/acme/admin%E2%80%AE",
        "/orgs/acme/%C3%A9",
        "/orgs/acme/a%23b",
        "/orgs/acme/a%3Fb",
        "/orgs/acme/a b",
        "/orgs/acme/a\"b",
        "/orgs/acme/a<b",
    ] {
        assert!(
            matches!(t.resolve("GET", uri, None), Err(Refusal::InvalidPath(_))),
            "{uri} was not refused: {:?}",
            t.resolve("GET", uri, None)
        );
    }
    // Encoded safe characters decode as usual.
    assert_eq!(
        t.resolve("GET", "/orgs/acme/%61dmin", None).unwrap().route,
        0
    );
}

#[test]
fn the_shipped_paths_through_nginx_match_nothing() {
    let t = table();
    for uri in [
        "/orgs/a/workspaces/ws1/notes/..%252F..%252Fws2%252Fnotes%252Fn2",
        "/orgs/a/workspaces/ws1/notes/n1#/../../../ws2/notes/n2",
    ] {
        assert!(
            matches!(t.resolve("GET", uri, None), Err(Refusal::InvalidPath(_))),
            "{uri}"
        );
    }
}

#[test]
fn a_method_override_needs_a_route_that_allows_it_and_is_judged_as_that_method() {
    let t = Table::parse(ADMIN).unwrap();
    assert!(matches!(
        t.resolve("POST", "/orgs/acme/public", Some("DELETE")),
        Err(Refusal::MethodOverride(_))
    ));
    let allowing = r#"
routes:
  - {method: DELETE, path: "/orgs/{org}/notes", action: org.update, resource: {type: Organization, id: "{org}"}, allow_method_override: true}
  - {method: "*", path: "/orgs/{org}/notes", action: org.read, resource: {type: Organization, id: "{org}"}}
"#;
    let t = Table::parse(allowing).unwrap();
    let r = t
        .resolve("POST", "/orgs/acme/notes", Some("delete"))
        .unwrap();
    assert_eq!((r.route, r.action.as_str()), (0, "org.update"));
    // Judged as PUT, the matching route does not allow overrides.
    assert!(matches!(
        t.resolve("POST", "/orgs/acme/notes", Some("PUT")),
        Err(Refusal::MethodOverride(_))
    ));
    assert!(matches!(
        t.resolve("POST", "/orgs/acme/notes", Some("DE LETE")),
        Err(Refusal::MethodOverride(_))
    ));
}

#[test]
fn a_path_segment_bound_to_nothing_or_an_unsafe_literal_rejects_the_file() {
    let unbound = "routes:\n  - {method: GET, path: \"/orgs/{org}/ws/{ws}\", action: x, resource: {type: Workspace, id: \"{ws}\"}}";
    let err = Table::parse(unbound).unwrap_err().to_string();
    assert!(
        err.contains("`{org}`") && err.contains("bound to nothing"),
        "{err}"
    );
    let ignored = "routes:\n  - {method: GET, path: \"/orgs/{_org}/ws/{ws}\", action: x, resource: {type: Workspace, id: \"{ws}\"}}";
    assert!(Table::parse(ignored).is_ok());
    for literal in ["a;b", "admin.", "a b", "é"] {
        let text = format!("routes:\n  - {{method: GET, path: \"/{literal}\", action: x, resource: {{type: T, id: i}}}}");
        let err = Table::parse(&text).unwrap_err().to_string();
        assert!(err.contains("may hold only"), "{literal}: {err}");
    }
}

#[test]
fn routes_naming_an_action_the_schema_lacks_are_refused_as_a_whole() {
    let t = Table::parse(ADMIN).unwrap();
    let declared = |kind: &str| {
        if kind == "Organization" {
            vec!["org.read".to_owned()]
        } else {
            Vec::new()
        }
    };
    let err = t.check_actions(declared).unwrap_err().to_string();
    assert!(
        err.starts_with("route 1:") && err.contains("org.update"),
        "{err}"
    );
    let all = |_: &str| vec!["org.read".to_owned(), "org.update".to_owned()];
    assert!(t.check_actions(all).is_ok());
}
