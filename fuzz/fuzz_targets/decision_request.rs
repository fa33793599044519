//! Any bytes as the body of `POST /v1/is_authorized` and of the batch form:
//! parsing and deciding must never panic, whatever the JSON says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantgate::authz::{BatchRequest, DecisionRequest};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let fixture = common::fixture();
    if let Ok(req) = serde_json::from_slice::<DecisionRequest>(data) {
        let _ = fixture.authz.decide(&fixture.snapshot, &req);
        let _ = fixture.authz.action_label(&req.action);
    }
    if let Ok(batch) = serde_json::from_slice::<BatchRequest>(data) {
        let _ = fixture.authz.decide_batch(&fixture.snapshot, &batch);
    }
});
