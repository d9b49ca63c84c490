#!/usr/bin/env bash
# The main job on the default model: set up (OpenBLAS, SmolLM2-135M-Instruct; idempotent),
# build, and run the P2P demo (experiments/demo.yaml): SST-2 poisoned with BadNets and AddSent,
# an undefended LoRA fine-tune vs a P2P-defended one for each, evaluated for clean accuracy and
# attack success rate. About 20 minutes on 2 cores; prints the table and writes
# runs/sst2-demo/report.{md,html} and chart.svg. Running it again resumes (finished cells are
# skipped). Extra arguments go to `p2p run` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product p2p >&2
exec .build/release/p2p run experiments/demo.yaml "$@"
