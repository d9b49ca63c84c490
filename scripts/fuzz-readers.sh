#!/usr/bin/env bash
# Fuzzing the readers of untrusted files
# --------------------------------------
# Builds one libFuzzer binary per reader (ASan + libFuzzer, runtime checks on), seeds each corpus
# from the repository's data and fixtures, and runs each target for a bounded time. An input
# must be read or refused with the module's error type; a trap, a crash, an ASan report, a leak,
# a timeout, a slow unit (over 10 s) or a broken invariant (a `check` in the fuzz file, which
# prints what broke) is a finding. Findings kept for the record: Fuzz/crashes-found/README.md.
#
#   scripts/fuzz-readers.sh                  # every target, 60 seconds each
#   scripts/fuzz-readers.sh 300              # 5 minutes each
#   scripts/fuzz-readers.sh 60 -jobs=2       # extra arguments go to libFuzzer
#   FUZZ_TARGETS=experiments scripts/fuzz-readers.sh 120      # some targets only
#   FUZZ_TARGETS="datasets gguf" scripts/fuzz-readers.sh      # gguf runs scripts/fuzz-gguf.sh
#   FUZZ_BUILD=0 scripts/fuzz-readers.sh     # run the binaries already built
#   FUZZ_LOCK=/tmp/p2p-build.lock scripts/fuzz-readers.sh     # each build and run under flock
#   Fuzz/experiments-fuzz Fuzz/corpus-work/experiments/crashes/crash-<sha1>   # replay one input
#
# Targets (Fuzz/<Name>/<Name>Fuzz.swift; each file's header lists its invariants):
#   datasets     DatasetReader (TSV, CSV, JSONL: the input written with each extension),
#                ParaphrasePairsReader, TextFile.decode/lines. Errors must be DatasetError;
#                TextFile.decode must match a reference decoder; a file with LF, with CRLF line
#                ends and with a UTF-8 BOM must read identically (same examples or same error);
#                labels lie in 0...DatasetReader.maxLabel, sentences are non-empty.
#   experiments  ExperimentPlan.load (every task; StrictYAML.check on
#                Yams' compose, YAMLDecoder, plan.cells()). Errors must be ExperimentError; LF and
#                CRLF+BOM files load the same; a plan that loads has a non-empty grid with distinct
#                keys, rates in [0, 1], ratios in (0, 1] and targets that are labels. Runs in a
#                scratch folder with two tiny datasets (tiny/ TSV, tiny3/ CSV).
#   safetensors  SafeTensorsFile and PEFTAdapter.load (for a tiny 2-layer model). An input is a
#                safetensors file, or adapter_config.json + "\n@@adapter_model.safetensors@@\n" +
#                a safetensors file. Errors must be TrainingError; offsets stay in the data
#                section, dtypes convert or are refused, a Data slice reads like the bytes, the
#                tensors rewrite with SafeTensorsWriter to a file that reads back bit-identically
#                (a fixed point), and a loaded adapter saves and loads back bit-identically.
#   gguf         (only when named in FUZZ_TARGETS) runs scripts/fuzz-gguf.sh with the same
#                seconds and arguments.
#
# How it builds: `P2P_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product
# p2p-fuzz-<target>` with -sanitize=fuzzer,address (C code of Yams: -fsanitize=fuzzer-no-link,
# address). P2P_FUZZ=1 adds the fuzz executables to Package.swift and drops -Ounchecked, so
# overflow and bounds checks trap in the fuzzer; without it the package graph is unchanged. The
# first build compiles the whole package (several minutes). .build-fuzz starts from the
# dependency checkouts of .build when there are some (no network needed).
#
# Outputs, all git-ignored: the binaries Fuzz/{datasets,experiments,safetensors}-fuzz and, per
# target, Fuzz/corpus-work/<target>/: corpus/ (grows across runs; seeds are added, never
# replaced), crashes/ (crash-, leak-, timeout-, oom-, slow-unit- inputs), <target>.dict and
# last-run.log (the full libFuzzer output; the console omits its NEW/REDUCE lines).
# LSan ignores one known leak in Foundation (FileManager.contents(atPath:) of an empty file,
# Fuzz/corpus-work/lsan.supp). Exit status: 0 when no target found anything; 1 when a target
# failed or left a new file in its crashes/ folder (the summary at the end names them).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
seconds="${1:-60}"
shift || true
targets="${FUZZ_TARGETS:-datasets experiments safetensors}"
work="$root/Fuzz/corpus-work"
scratch=.build-fuzz
lock=()
if [ -n "${FUZZ_LOCK:-}" ]; then lock=(flock "$FUZZ_LOCK"); fi
mkdir -p "$work"

# ---- build -------------------------------------------------------------------------------------

build() {  # build TARGET: Fuzz/TARGET-fuzz
  if [ ! -d "$scratch/checkouts" ] && [ -d .build/checkouts ]; then
    mkdir -p "$scratch"
    cp -a .build/checkouts .build/workspace-state.json "$scratch/"
    [ -d .build/repositories ] && cp -a .build/repositories "$scratch/"
  fi
  echo "building Fuzz/$1-fuzz (ASan + libFuzzer, release with runtime checks)..."
  local attempt
  for attempt in 1 2 3; do  # a source edited during the build fails it: try again
    if P2P_FUZZ=1 "${lock[@]}" swift build -c release --scratch-path "$scratch" --product "p2p-fuzz-$1" \
      -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xcc -fsanitize=fuzzer-no-link,address; then
      cp "$scratch/release/p2p-fuzz-$1" "Fuzz/$1-fuzz"
      return 0
    fi
    echo "build of Fuzz/$1-fuzz failed (attempt $attempt)" >&2
  done
  return 1
}

# ---- seeds -------------------------------------------------------------------------------------

seed() {  # seed DIR NAME < bytes: add one seed file unless it is there
  if [ -e "$1/seed-$2" ]; then cat > /dev/null; else cat > "$1/seed-$2"; fi
}

seed_datasets() {
  local c=$1 f n
  for f in Data/*/*.tsv; do
    n=$(echo "${f#Data/}" | tr / -)
    head -n 6 "$f" | cut -c 1-200 | seed "$c" "$n"
  done
  for f in $(find Tests -path '*Fixtures*' -name '*.jsonl' | sort); do
    head -n 3 "$f" | cut -c 1-300 | seed "$c" "$(basename "$f")"
  done
  printf 'sentence,label\n"a ""quoted"", film",1\nplain,0\n"unterminated,1\n' | seed "$c" csv-quotes
  printf 'sentence,label\r\nfine,1\r\nbad,0\r\n' | seed "$c" csv-crlf
  printf '\xef\xbb\xbfsentence\tlabel\nok\t255\nno\t256\n\t1\nx\t-1\n' | seed "$c" tsv-bom-labels
  printf '{"sentence": "good", "label": 1}\n{"sentence": "bad", "label": "0", "poisoned": true, "source_index": 7}\n\n{"sentence": "x\\ny", "label": 1.5}\n' \
    | seed "$c" jsonl-fields
  printf 'sentence\tlabel\nnot utf8 \xc3\x28\t1\nsurrogate \xed\xa0\x80\t0\n' | seed "$c" tsv-bad-utf8
  printf 'clean_index\tclean_sentence\tclean_label\tpoisoned_index\tpoisoned_sentence\tpoisoned_label\n0\ta film\t1\t0\tthe film , it is\t1\n3\tx\t0\t3\t\t0\n' \
    | seed "$c" pairs
}

seed_experiments() {
  local c=$1 f
  for f in experiments/*.yaml; do seed "$c" "$(basename "$f")" < "$f"; done
  printf 'attacks: [{attack: badnets}]\n' | seed "$c" minimal
  printf 'datasets: [tiny, tiny3]\nattacks:\n  - {name: a, attack: custom, trigger: cf, placement: prefix, count: 2, target: 2, defenses: [p2p-agree-oracle]}\n  - {attack: synbkd, setting: mixed, rate: 0}\ndefenses: ["p2p:0.5", none]\nseeds: [1, 2]\n' \
    | seed "$c" tiny-datasets
  printf 'task: math\ndatasets: [gsm8k]\nattacks:\n  - {attack: badchain, rate: 0.1, multiplier: 2.5, trigger: " @_@"}\ndefenses: [none, p2p-cover]\nmax_new_tokens: 64\nablation: true\np2p: {safe_prefix: "[safe] ", mode: replace}\n' \
    | seed "$c" generation-math
  printf 'base: &b {attack: addsent, rate: 0.2}\nattacks: [*b, {<<: *b, name: other}]\ntraining: {epochs: 1, lora_targets: "q,k", max_length: 64}\np2p: {ratio: 0.3, unrestricted: true}\n' \
    | seed "$c" anchors
}

seed_safetensors() {
  local c=$1 f
  for f in $(find Tests -path '*Fixtures*' -name '*.safetensors*' | sort); do
    seed "$c" "$(basename "$(dirname "$f")")-$(basename "$f")" < "$f"
  done
  # The PEFT fixture's config with the tiny seed weights (shapes do not match: an error path).
  local tmp
  tmp=$(mktemp -d)
  P2P_FUZZ_SEEDS="$tmp" Fuzz/safetensors-fuzz > /dev/null 2>&1 || true
  for f in "$tmp"/seed-*; do [ -e "$f" ] && seed "$c" "${f##*/seed-}" < "$f"; done
  if [ -e "$tmp/seed-weights-qv-r2" ]; then
    { cat Tests/TrainingTests/Fixtures/smollm-peft-adapter/adapter_config.json
      printf '\n@@adapter_model.safetensors@@\n'
      cat "$tmp/seed-weights-qv-r2"; } | seed "$c" smollm-config-tiny-weights
  fi
  rm -rf "$tmp"
}

# ---- dictionaries ------------------------------------------------------------------------------

dict_datasets() {
  cat <<'DICT'
tab="\x09"
crlf="\x0d\x0a"
cr="\x0d"
lf="\x0a"
bom="\xef\xbb\xbf"
quote="\x22"
quotes="\x22\x22"
tsv_header="sentence\x09label"
csv_header="sentence,label"
pairs_header="clean_index\x09clean_sentence\x09clean_label\x09poisoned_index\x09poisoned_sentence\x09poisoned_label"
k_sentence="\x22sentence\x22: "
k_label="\x22label\x22: "
k_poisoned="\x22poisoned\x22: true"
k_source="\x22source_index\x22: "
l255="255"
l256="256"
neg="-1"
big="9223372036854775808"
bad_utf8="\xc3\x28"
surrogate="\xed\xa0\x80"
nbsp="\xc2\xa0"
DICT
}

dict_experiments() {
  local w
  # Keys of ExperimentPlan and its nested sections (their CodingKeys).
  for w in name model datasets attacks defenses seeds p2p training task train_limit test_limit \
    attack rate target setting trigger count placement ratio mode benign_trigger unrestricted \
    epochs lr batch_size gradient_accumulation lora_rank lora_alpha lora_dropout lora_targets max_length \
    payload multiplier backdoorllm_keywords safe_prefix max_new_tokens ablation; do
    printf 'k_%s="%s: "\n' "$w" "$w"
  done
  for w in classification math summarization instruction badnets addsent synbkd stylebkd custom badchain \
    dirty clean mixed random prefix suffix union replace none p2p p2p-paper p2p-agree p2p-screen p2p-cover \
    p2p-probe p2p-oracle p2p-agree-oracle sst2 agnews sst2-synbkd agnews-stylebkd-bible tiny tiny3 gsm8k \
    scitldr backdoorllm/negsentiment all q_proj; do
    printf 'v_%s="%s"\n' "$(echo "$w" | tr -c 'a-z0-9\n' _)" "$w"
  done
  cat <<'DICT'
y_item="\x0a  - "
y_map="{attack: badnets, rate: 0.1}"
y_list="[a, b]"
y_anchor="&a "
y_alias="*a"
y_merge="<<: "
y_tag_str="!!str "
y_tag_int="!!int "
y_doc="---\x0a"
y_end="\x0a..."
y_block="|\x0a  "
y_null="~"
y_nan=".nan"
y_inf="-.inf"
y_hex="0x1F"
y_big="1e400"
y_u64="18446744073709551616"
y_colon_ratio="p2p:0.3"
y_crlf="\x0d\x0a"
y_bom="\xef\xbb\xbf"
DICT
}

dict_safetensors() {
  cat <<'DICT'
sep="\x0a@@adapter_model.safetensors@@\x0a"
k_meta="\x22__metadata__\x22"
k_dtype="\x22dtype\x22:"
k_shape="\x22shape\x22:"
k_offsets="\x22data_offsets\x22:"
d_f32="\x22F32\x22"
d_f16="\x22F16\x22"
d_bf16="\x22BF16\x22"
d_f64="\x22F64\x22"
d_i64="\x22I64\x22"
d_bool="\x22BOOL\x22"
d_f4="\x22F4\x22"
d_f6="\x22F6_E2M3\x22"
d_f8="\x22F8_E4M3\x22"
d_c64="\x22C64\x22"
n_prefix="base_model.model.model.layers."
n_q=".self_attn.q_proj"
n_k=".self_attn.k_proj"
n_down=".mlp.down_proj"
n_a=".lora_A.weight"
n_b=".lora_B.weight"
n_default=".default.weight"
c_r="\x22r\x22: "
c_alpha="\x22lora_alpha\x22: "
c_dropout="\x22lora_dropout\x22: "
c_targets="\x22target_modules\x22: [\x22q_proj\x22, \x22gate_proj\x22]"
c_peft="\x22peft_type\x22: \x22LORA\x22"
c_dora="\x22use_dora\x22: true"
c_rslora="\x22use_rslora\x22: true"
c_fifo="\x22fan_in_fan_out\x22: true"
j_big="18446744073709551615"
j_neg="-1"
j_exp="1e3"
u64_8="\x08\x00\x00\x00\x00\x00\x00\x00"
u64_max="\xff\xff\xff\xff\xff\xff\xff\xff"
f32_nan="\x00\x00\xc0\x7f"
f32_inf="\x00\x00\x80\x7f"
DICT
}

# ---- run ---------------------------------------------------------------------------------------

# Swift's own crash backtracer reads the stack under ASan (a report of its own): libFuzzer and
# ASan print the stack of a trap instead.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
printf 'leak:readBytesFromFile\n' > "$work/lsan.supp"
export LSAN_OPTIONS="suppressions=$work/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

failed=()
for t in $targets; do
  case "$t" in
    datasets) max_len=4096 ;;
    experiments) max_len=4096 ;;
    safetensors) max_len=24576 ;;
    gguf)
      if ! "${lock[@]}" scripts/fuzz-gguf.sh "$seconds" "$@"; then failed+=("gguf (see Fuzz/corpus-work/crashes)"); fi
      continue ;;
    *) echo "unknown target '$t' (datasets, experiments, safetensors, gguf)" >&2; exit 2 ;;
  esac
  if [ "${FUZZ_BUILD:-1}" != 0 ] || [ ! -x "Fuzz/$t-fuzz" ]; then build "$t"; fi
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/crashes"
  "seed_$t" "$dir/corpus"
  "dict_$t" > "$dir/$t.dict"
  before=$(ls "$dir/crashes" | wc -l)
  echo "fuzzing $t for ${seconds}s (corpus $dir/corpus, crashes in $dir/crashes)..."
  status=0
  "${lock[@]}" "Fuzz/$t-fuzz" "$dir/corpus" \
    -dict="$dir/$t.dict" \
    -max_total_time="$seconds" \
    -max_len="$max_len" \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -artifact_prefix="$dir/crashes/" \
    -print_final_stats=1 \
    "$@" 2>&1 | tee "$dir/last-run.log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE)[[:space:]]' || status=$?
  after=$(ls "$dir/crashes" | wc -l)
  # A run that crashed leaves its scratch folder (the harness removes it at a normal exit).
  for d in /dev/shm/p2p-fuzz-"$t"-* "${TMPDIR:-/tmp}"/p2p-fuzz-"$t"-*; do
    if [ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null; then rm -rf "$d"; fi
  done
  if [ "$status" != 0 ] || [ "$after" != "$before" ]; then
    failed+=("$t (exit $status, $((after - before)) new file(s) in $dir/crashes)")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FOUND SOMETHING in: ${failed[*]}" >&2
  exit 1
fi
echo "no findings in: $targets"
