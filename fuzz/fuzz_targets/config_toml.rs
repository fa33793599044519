//! Any text as the TOML settings file: a clean error or settings that pass
//! their own checks, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = tenantgate::config::Settings::from_toml(text);
});
