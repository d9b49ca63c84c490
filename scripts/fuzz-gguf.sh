#!/usr/bin/env bash
# Fuzzing the GGUF reader
# -----------------------
# Builds a libFuzzer binary from Sources/GGUF/*.swift and Fuzz/GGUFFuzz.swift with
# `swiftc -sanitize=fuzzer,address -parse-as-library -O`, seeds a corpus from the GGUF test
# fixtures and runs it. Each input must parse or throw a GGUFError; parsed files are dequantized
# (every supported tensor type) and rewritten with GGUFWriter, which must be a fixed point.
#
#   scripts/fuzz-gguf.sh              # 60 seconds
#   scripts/fuzz-gguf.sh 600          # 10 minutes
#   scripts/fuzz-gguf.sh 60 -jobs=2   # extra arguments go to libFuzzer
#   Fuzz/gguf-fuzz Fuzz/corpus-work/crashes/crash-<sha1>   # replay one input
#
# Needs a Swift toolchain for Linux (it ships libFuzzer). Outputs, all git-ignored: the binary
# Fuzz/gguf-fuzz and Fuzz/corpus-work/ (corpus/ grows across runs, crashes/ holds any crash,
# leak or timeout input, gguf.dict is the dictionary of format tokens). Exit status is 0 when
# nothing was found, libFuzzer's non-zero status otherwise.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
work=Fuzz/corpus-work

echo "building Fuzz/gguf-fuzz (ASan + libFuzzer, -O)..."
swiftc -sanitize=fuzzer,address -parse-as-library -O -swift-version 6 -module-name GGUFFuzz \
  Sources/GGUF/*.swift Fuzz/GGUFFuzz.swift -o Fuzz/gguf-fuzz

mkdir -p "$work/corpus" "$work/crashes"
cp -n Tests/GGUFTests/Fixtures/*.gguf.bin "$work/corpus/" 2>/dev/null || true

# Tokens of the format, so mutations hit meaningful values: magic, versions, type ids as
# uint32, the alignment key, a few lengths and offsets as uint64.
cat > "$work/gguf.dict" <<'DICT'
magic="GGUF"
key_alignment="general.alignment"
key_arch="general.architecture"
v2="\x02\x00\x00\x00"
v3="\x03\x00\x00\x00"
t_array="\x09\x00\x00\x00"
t_string="\x08\x00\x00\x00"
t_uint32="\x04\x00\x00\x00"
t_q4_k="\x0c\x00\x00\x00"
t_q6_k="\x0e\x00\x00\x00"
t_bf16="\x1e\x00\x00\x00"
u64_32="\x20\x00\x00\x00\x00\x00\x00\x00"
u64_256="\x00\x01\x00\x00\x00\x00\x00\x00"
u64_max="\xff\xff\xff\xff\xff\xff\xff\xff"
u64_2_63="\x00\x00\x00\x00\x00\x00\x00\x80"
DICT

echo "fuzzing for ${seconds}s (corpus $work/corpus, crashes in $work/crashes)..."
exec Fuzz/gguf-fuzz "$work/corpus" \
  -dict="$work/gguf.dict" \
  -max_total_time="$seconds" \
  -rss_limit_mb=2048 \
  -timeout=10 \
  -artifact_prefix="$work/crashes/" \
  -print_final_stats=1 \
  "$@"
