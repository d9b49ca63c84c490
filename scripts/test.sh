#!/usr/bin/env bash
# Sets up what the tests need (OpenBLAS, the default model; idempotent) and runs the test suite
# in release mode (the real-model tests run the engine; debug builds are ~20x slower).
# Extra arguments go to `swift test` (e.g. --filter LlamaTests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Package.swift must declare exactly the modules each target imports.
if command -v python3 >/dev/null; then python3 scripts/check-imports.py; fi
# The tests write their scratch folders (grids, checkpoints, datasets) under the temporary
# directory; give them one of their own and remove it afterwards, so runs do not pile up in /tmp.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/p2p-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
TMPDIR="$scratch" swift test -c release "$@"
