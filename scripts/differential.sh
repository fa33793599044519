#!/bin/sh
# Compares the sidecar's decisions with Cedar's own evaluator over every
# entity of the database, on many random worlds (200 questions each).
#   scripts/differential.sh [worlds]     default 100 worlds, 20,000 questions
# `cargo test` runs the same test on 16 worlds.
set -eu
cd "$(dirname "$0")/.."
DIFF_CASES="${1:-100}" exec cargo test --release --test it \
  differential::decisions_equal_cedar_over_the_whole_database -- --nocapture
