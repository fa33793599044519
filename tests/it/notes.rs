//! The notes example's team flow, end to end against the real sidecar: its
//! own router and typed client (compiled in from examples/notes) over a
//! socket to `tenantgate serve`.

#[allow(dead_code)]
#[path = "../../examples/notes/client.rs"]
mod client;

#[path = "../../examples/notes/app.rs"]
mod app;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::*;

struct Notes {
    router: axum::Router,
}

impl Notes {
    /// One call to the notes app as `user` (id, with `<id>@acme.test` as email).
    async fn call(
        &self,
        method: Method,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("x-user-id", user)
            .header("x-user-email", format!("{user}@acme.test"));
        let body = match body {
            Some(Value::String(text)) => Body::from(text),
            Some(json) => {
                req = req.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let allowed_by = resp
            .headers()
            .get("x-allowed-by")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, allowed_by, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notes_app_runs_its_team_flow_and_checks_on_tenantgate() {
    let dir = notes_workdir();
    let server = Server::start(dir.path(), &[], &[]);
    let gate = client::TenantGate::new(&server.base, None).unwrap();
    let notes = Notes {
        router: app::router(gate),
    };
    const NOTE: &str = "/orgs/acme/workspaces/plans/notes/n1";

    // Olive creates the org and a workspace, and writes a note.
    let (status, _, org) = notes
        .call(
            Method::POST,
            "/orgs",
            "olive",
            Some(json!({"id": "acme", "name": "Acme"})),
        )
        .await;
    assert_eq!((status, org["id"].clone()), (201, json!("acme")), "{org}");
    let (status, _, _) = notes
        .call(
            Method::POST,
            "/orgs/acme/workspaces",
            "olive",
            Some(json!({"id": "plans", "name": "Plans"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, allowed_by, _) = notes
        .call(
            Method::PUT,
            NOTE,
            "olive",
            Some(Value::String("ship it".into())),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(allowed_by, "workspace-admins-edit-documents");

    // She invites Mia as a member; Mia accepts with the token.
    let (status, _, invite) = notes
        .call(
            Method::POST,
            "/orgs/acme/invites",
            "olive",
            Some(json!({"email": "mia@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let token = invite["token"].as_str().unwrap().to_owned();
    // Nobody else can use Mia's invite.
    let (status, _, _) = notes
        .call(
            Method::POST,
            "/invites/accept",
            "eve",
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(status, 403, "the invite is bound to mia's email");
    let (status, _, joined) = notes
        .call(
            Method::POST,
            "/invites/accept",
            "mia",
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(
        (status, joined["role"].clone()),
        (200, json!("member")),
        "{joined}"
    );

    // A member in no workspace reads nothing and writes nothing.
    assert_eq!(notes.call(Method::GET, NOTE, "mia", None).await.0, 403);
    assert_eq!(
        notes
            .call(Method::PUT, NOTE, "mia", Some(Value::String("x".into())))
            .await
            .0,
        403
    );
    // Members may not promote themselves; the sidecar's policies refuse.
    let (status, _, _) = notes
        .call(
            Method::PATCH,
            "/orgs/acme/members/mia",
            "mia",
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 403);

    // Olive makes Mia an admin: she now reads and edits every workspace.
    let (status, _, member) = notes
        .call(
            Method::PATCH,
            "/orgs/acme/members/mia",
            "olive",
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        (status, member["role"].clone()),
        (200, json!("admin")),
        "{member}"
    );
    let (status, allowed_by, text) = notes.call(Method::GET, NOTE, "mia", None).await;
    assert_eq!((status, text), (200, json!("ship it")));
    assert_eq!(allowed_by, "workspace-members-read-documents");
    assert_eq!(
        notes
            .call(Method::PUT, NOTE, "mia", Some(Value::String("v2".into())))
            .await
            .0,
        204
    );
    // Admins still cannot make owners, and strangers see nothing.
    let (status, _, _) = notes
        .call(
            Method::POST,
            "/orgs/acme/invites",
            "mia",
            Some(json!({"email": "x@acme.test", "role": "owner"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(notes.call(Method::GET, NOTE, "eve", None).await.0, 403);
}
