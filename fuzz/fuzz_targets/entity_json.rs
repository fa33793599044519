//! Any JSON value as the request's `entities` (host entities in Cedar's JSON
//! format) and as its context, on a fixed question about a host document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tenantgate::authz::DecisionRequest;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let fixture = common::fixture();
    let req = DecisionRequest {
        principal: json!({"type": "User", "id": "mia"}),
        action: json!({"type": "Action", "id": "document.read"}),
        resource: json!({"type": "Document", "id": "d1"}),
        context: Some(value.clone()),
        entities: Some(value.clone()),
    };
    let _ = fixture.authz.decide(&fixture.snapshot, &req);
    let _ = fixture.authz.permissions(
        &fixture.snapshot,
        "mia",
        &json!("Document::\"d1\""),
        Some(&value),
    );
});
