#!/bin/sh
# Make the random-weight family fixtures and their goldens in data/families/.
#
#   tools/make_family_fixtures.sh DUMP_LOGITS HF_PYTHON [OUT_DIR]
#
# DUMP_LOGITS  a small program linked against an existing llama.cpp build's libllama
#              (the committed goldens: llama.cpp c392e5094): `DUMP_LOGITS MODEL
#              TOKENS_FILE OUT_FILE 1` decodes the token ids of TOKENS_FILE in one batch
#              (positions 0..n-1, all logits, 1 thread, default context parameters: F16
#              KV cache) and writes the logits as raw float32 (n x n_vocab). Not part of
#              this repository (data/llamacpp/README.md describes it).
# HF_PYTHON    a Python with transformers (4.44.2 with Debian's torch 1.13 works), numpy
#              and gguf: gives the opt golden (llama.cpp has no opt) and a second,
#              float32-exact reference for gpt2 and bloom.
# OUT_DIR      default: data/families under the repository.
#
# Environment: PYTHON (default python3) must import llama.cpp's gguf-py (`gguf`) and numpy.
set -eu

if [ $# -lt 2 ]; then
    sed -n '2,17p' "$0"; exit 2
fi
DUMP=$1
HF=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${3:-$ROOT/data/families}
PY=${PYTHON:-python3}
[ -x "$DUMP" ] || { echo "missing $DUMP" >&2; exit 1; }

"$PY" "$ROOT/tools/make_family_fixtures.py" "$OUT"
for f in llama3 qwen2 gpt2 bloom; do
    "$DUMP" "$OUT/$f.gguf" "$OUT/$f.tokens" "$OUT/$f.logits" 1 > /dev/null
done
for f in gpt2 bloom opt; do
    OMP_NUM_THREADS=1 "$HF" "$ROOT/tools/family_logits_hf.py" "$OUT/$f.gguf" "$OUT/$f.tokens" "$OUT/$f.hf.logits" \
        2>&1 | grep -v past_key_values
done
ls -l "$OUT"
