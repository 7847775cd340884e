#!/usr/bin/env bash
# Every test of the project, as CI runs it:
#   1. cargo test: unit tests, signing vectors, property tests, and the binary against the
#      built-in emulator;
#   2. the emulator driven by the official Alibaba Cloud and Qiniu Python SDKs as clients (the SDKs are
#      installed into a virtualenv under target/, nothing system-wide).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-targets
cargo build
scripts/sdk-check/run.sh target/debug/cdn-refresh
