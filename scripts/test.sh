#!/usr/bin/env bash
# Sets everything up on a fresh machine and runs the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/bootstrap.sh
export PATH="$root/tools/bin:$PATH"
cargo build --workspace --quiet
cargo test --workspace "$@"
