#!/usr/bin/env bash
# The main job on the default model: set up (OpenBLAS, SmolLM2-135M-Instruct; idempotent),
# build, and run a streamed chat generation. Extra arguments replace the prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product p2p >&2
prompt="${*:-What is the capital of France? Answer in one sentence.}"
exec .build/release/p2p generate --chat --stats --max-tokens 64 "$prompt"
