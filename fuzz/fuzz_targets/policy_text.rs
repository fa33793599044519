//! Any text as a policy file: validation against the schema (what
//! `POST /v1/policies/validate` and reloads do) and the formatter must never
//! panic, and the formatter's output must parse as the same policy count.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = common::fixture();
    let report = fixture.authz.validate_text(text);
    if let Ok(formatted) = tenantgate::authz::format_policies("fuzz.cedar", text) {
        let again = fixture.authz.validate_text(&formatted);
        assert_eq!(
            report.valid, again.valid,
            "formatting changed validity:\n{text}\n---\n{formatted}"
        );
    }
});
