#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, default 60)
# with libFuzzer through cargo-fuzz, keeping the corpus in fuzz/corpus/.
# Works on the stable toolchain: no sanitizer (`-s none`), and
# RUSTC_BOOTSTRAP for the coverage flags cargo-fuzz passes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
    TARGETS=(decision_request entity_json policy_text config_toml)
fi
export RUSTC_BOOTSTRAP=1
for target in "${TARGETS[@]}"; do
    echo "== fuzzing $target for ${SECONDS_EACH}s"
    mkdir -p "corpus/$target"
    cargo fuzz run --sanitizer none --fuzz-dir . "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048
done
