#!/usr/bin/env bash
# Runs `p2p bench` (engine and training) and the PyTorch / llama.cpp anchors of ../shared/anchors
# back to back on this machine and prints the figures and ratios for BENCHMARKS.md.
# Needs the anchor venv (../shared/anchors/setup.sh; WITH_LLAMACPP=1 for llama.cpp).
# Output: runs/bench/<date>/ (JSON and logs) and a Markdown table on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ANCHOR_VENV:-$HOME/.cache/p2p/anchor-venv}
ANCHORS=${ANCHORS:-../shared/anchors}
out=runs/bench/$(date +%Y%m%d-%H%M%S); mkdir -p "$out"
bash scripts/setup.sh
swift build -c release --product p2p >&2
echo "[bench] p2p engine" >&2
.build/release/p2p bench --json > "$out/p2p-engine.json"
echo "[bench] p2p training" >&2
.build/release/p2p bench --train --json > "$out/p2p-train.json"
if [ -x "$VENV/bin/python" ]; then
  for s in bench_prefill.py bench_score.py bench_generate.py; do
    echo "[bench] anchor $s" >&2; "$VENV/bin/python" "$ANCHORS/$s" > "$out/${s%.py}.log" 2>&1 || true
  done
  for t in qv all; do
    echo "[bench] anchor bench_lora_train.py $t" >&2
    "$VENV/bin/python" "$ANCHORS/bench_lora_train.py" "$t" > "$out/bench_lora_train-$t.log" 2>&1 || true
  done
  for v in last full; do
    echo "[bench] anchor bench_lora_classification.py $v" >&2
    ANCHORS="$ANCHORS" "$VENV/bin/python" scripts/anchors/bench_lora_classification.py "$v" \
      > "$out/bench_lora_classification-$v.log" 2>&1 || true
  done
  if "$VENV/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    echo "[bench] anchor bench_llamacpp.py" >&2; "$VENV/bin/python" "$ANCHORS/bench_llamacpp.py" > "$out/bench_llamacpp.log" 2>&1 || true
  fi
fi
python3 - "$out" <<'PY'
import json, re, sys, glob, os
out = sys.argv[1]
e = json.load(open(f"{out}/p2p-engine.json")); t = json.load(open(f"{out}/p2p-train.json"))
def grab(f, pat):
    p = os.path.join(out, f)
    if not os.path.exists(p): return None
    m = re.search(pat, open(p).read())
    return float(m.group(1)) if m else None
pt = {
  "prefill": grab("bench_prefill.log", r"prefill full_logits: ([\d.]+)"),
  "score": grab("bench_score.log", r"score gather: ([\d.]+)"),
  "decode": grab("bench_generate.log", r"manual-loop decode: ([\d.]+)"),
  "qv": grab("bench_lora_train-qv.log", r"RESULT[^\n]*?([\d.]+) (?:trained )?tok/s"),
  "all": grab("bench_lora_train-all.log", r"RESULT[^\n]*?([\d.]+) (?:trained )?tok/s"),
  "cls_last": grab("bench_lora_classification-last.log", r"RESULT[^\n]*?([\d.]+) trained tok/s"),
  "cls_full": grab("bench_lora_classification-full.log", r"RESULT[^\n]*?([\d.]+) trained tok/s"),
}
rows = [("prefill 16x64, full logits (tok/s)", e["prefill_tokens_per_s"], pt["prefill"]),
        ("scoring 256 SST-2, last position (sentences/s)", e["score_sentences_per_s"], pt["score"]),
        ("decode batch 1, 32+64 greedy (tok/s)", e["decode_tokens_per_s"], pt["decode"]),
        ("LoRA train q,v 8x64 (trained tok/s)", t.get("train_qv_tokens_per_s"), pt["qv"]),
        ("LoRA train all 8x64 (trained tok/s)", t.get("train_all_tokens_per_s"), pt["all"]),
        ("LoRA train classification 32x29, r=16, dropout 0.1, q,v (trained tok/s; PyTorch logits_to_keep=1)",
         t.get("train_classification_tokens_per_s"), pt["cls_last"]),
        ("the same, PyTorch with full logits as a Trainer with -100 labels", t.get("train_classification_tokens_per_s"), pt["cls_full"])]
print(f"| workload | p2p (Swift) | PyTorch | ratio |\n| --- | --- | --- | --- |")
for name, s, p in rows:
    if s is None: continue  # a workload that was not run
    print(f"| {name} | {s:.1f} | {p} | {s / p:.2f}x |" if p else f"| {name} | {s:.1f} | n/a | |")
print(f"\npeak RSS: engine {e['peak_rss_mb']:.0f} MiB, training {t['train_peak_rss_mb']:.0f} MiB; "
      f"GEMM limit for training {t['gemm_limit_tokens_per_s']:.0f} tok/s (8x64), "
      f"{t['classification_gemm_limit_tokens_per_s']:.0f} tok/s (32x29) at {t['gemm_gflops']:.0f} GFLOP/s")
print(f"raw outputs: {out}")
PY
