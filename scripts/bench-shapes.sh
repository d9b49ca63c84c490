#!/usr/bin/env bash
# The paper's model shapes side by side: p2p and PyTorch (../shared/anchors) on the synthetic
# Qwen3-0.6B- and Llama-3.2-1B-shaped GGUF files (random Q4_0 weights, `p2p bench --write-synthetic`),
# both computing in fp32 (PyTorch dequantizes the file at load; p2p with --base-weights fp32, and its
# quantized base beside). Workloads: last-position scoring of the first 64 SST-2 test sentences,
# greedy decoding of 64 tokens, LoRA training steps (batch 8 x 64, r=8, q,v and all projections).
# Run it in a quiet window (no experiment, no build): bash scripts/bench-shapes.sh OUT_DIR
# Needs the anchor venv (bash ../shared/anchors/setup.sh). About 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bash scripts/bench-shapes.sh OUT_DIR}"
mkdir -p "$out"
py="${ANCHOR_PYTHON:-$HOME/.cache/p2p/anchor-venv/bin/python}"
anchors="$(cd ../shared/anchors && pwd)"
p2p=.build/release/p2p
head -65 Data/sst2/test.tsv > "$out/sst2-64.tsv"
for shape in qwen3-0.6b llama-3.2-1b; do
  model="$out/$shape.gguf"
  [ -f "$model" ] || "$p2p" bench --write-synthetic "$shape" --synthetic-out "$model"
  for base in fp32 quantized; do
    echo "== p2p $shape $base: score, decode"
    "$p2p" bench --model "$model" --base-weights "$base" --json --repetitions 2 --sentences "$out/sst2-64.tsv" \
      --workloads score,decode > "$out/p2p-$shape-$base-engine.json"
    echo "== p2p $shape $base: LoRA training"
    "$p2p" bench --train --model "$model" --base-weights "$base" --json --repetitions 3 --workloads qv,all \
      > "$out/p2p-$shape-$base-train.json"
  done
  echo "== PyTorch $shape"
  N=64 REPS=2 WARMUP=1 "$py" "$anchors/bench_score.py" "$model" > "$out/torch-$shape-score.txt" 2>&1
  REPS=2 WARMUP=1 "$py" "$anchors/bench_generate.py" "$model" > "$out/torch-$shape-generate.txt" 2>&1
  for target in qv all; do
    REPS=3 WARMUP=1 "$py" "$anchors/bench_lora_train.py" "$model" "$target" > "$out/torch-$shape-train-$target.txt" 2>&1
  done
done
grep -h "RESULT\|peak" "$out"/torch-*.txt || true
