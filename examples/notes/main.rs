//! A notes app that leaves its whole team flow and every permission check
//! to tenantgate. Run the sidecar with the example host schema and
//! policies (see README.md beside this file), then:
//!
//! ```sh
//! cargo run --example notes    # http://127.0.0.1:3000
//! ```
//!
//! `TENANTGATE_URL` (default `http://127.0.0.1:8180`), `TENANTGATE_KEY` (a
//! `manage` key; unset in development mode) and `NOTES_LISTEN` (default
//! `127.0.0.1:3000`) configure it.

mod app;
mod client;

use anyhow::Context as _;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("TENANTGATE_URL").unwrap_or_else(|_| "http://127.0.0.1:8180".into());
    let key = std::env::var("TENANTGATE_KEY").ok();
    let listen = std::env::var("NOTES_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let gate = client::TenantGate::new(&url, key)?;

    // Notes are the host's `Document`s: the sidecar must know the type.
    let probe = gate
        .is_authorized(
            "nobody",
            "document.read",
            json!({"type": "Document", "id": "probe"}),
            vec![json!({"uid": {"type": "Document", "id": "probe"},
                        "attrs": {"workspace": {"type": "Workspace", "id": "probe"}},
                        "parents": []})],
        )
        .await;
    match probe {
        Ok(_) => {}
        Err(client::Error::Api { code, detail, .. }) if code == "invalid_request" => {
            anyhow::bail!(
                "tenantgate at {url} does not know notes ({detail}); add the example host files:\n  \
                 cp examples/host/host.cedarschema schema/ && cp examples/host/documents.cedar policies/"
            );
        }
        Err(e) => return Err(e).context(format!("tenantgate at {url}")),
    }

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    println!("notes listening on http://{listen}, deciding with tenantgate at {url}");
    axum::serve(listener, app::router(gate)).await?;
    Ok(())
}
