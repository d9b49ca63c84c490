#!/usr/bin/env bash
# Trigger accidents (issue 23, the paper's open question): how often a clean input that already
# contains the benign trigger text, or a part of it, changes the deployed classifier's prediction.
# For each phrase and each label L, the clean test rows of the other label get the phrase (at a
# random word position, or as a prefix) and are scored through the wrapper; the share predicted L
# is compared with the share of the same rows predicted L without the phrase (the clean error).
# Uses only p2p poison (custom trigger, rate 0) and p2p evaluate; prints a Markdown table.
#   bash scripts/study/trigger-accidents.sh ADAPTER_DIR [TEST_LIMIT]   (e.g. a demo cell's model)
set -euo pipefail
adapter=${1:?usage: trigger-accidents.sh ADAPTER_DIR [TEST_LIMIT]}
limit=${2:-400}
p2p=${P2P:-.build/release/p2p}
work=$(mktemp -d /tmp/p2p-accidents.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "| phrase | placement | label inserted into | rows | predicted other label, clean % | with the phrase % | changed % |"
echo "|---|---|---|---:|---:|---:|---:|"
i=0
while IFS='|' read -r phrase placement; do
  for target in 1 0; do
    i=$((i + 1))
    d="$work/d$i"
    "$p2p" poison --data sst2 --attack custom --trigger "$phrase" --placement "$placement" --rate 0 --target "$target" \
      --train-limit 10 --test-limit "$limit" --seed 42 --out "$d" > /dev/null
    "$p2p" evaluate --adapter "$adapter" --data "$d" --out "$d/eval" --quiet > /dev/null
    python3 - "$d/eval/evaluation.json" "$phrase" "$placement" "$target" <<'PY'
import json, sys
e = json.load(open(sys.argv[1])); m = e["metrics"]; t = int(sys.argv[4])
conf = m["confusion"]  # rows: gold, columns: predicted
other = 1 - t
n = sum(conf[other]); clean = conf[other][t] / n
asr = m["attackSuccessRate"]; hit = asr["successes"] / asr["total"]
print(f"| \"{sys.argv[2]}\" | {sys.argv[3]} | {other} | {asr['total']} | {100*clean:.1f} | {100*hit:.1f} | {100*(hit-clean):+.1f} |")
PY
  done
done <<'PHRASES'
The query currently entered is:|prefix
The query currently entered is:|random
query|random
currently entered|random
The query|prefix
PHRASES
