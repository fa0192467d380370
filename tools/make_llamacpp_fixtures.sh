#!/bin/sh
# Make the llama.cpp-produced GGUF fixtures and their golden values in data/llamacpp/.
#
#   tools/make_llamacpp_fixtures.sh LLAMA_BIN_DIR DUMP_LOGITS [OUT_DIR]
#
# LLAMA_BIN_DIR  folder of an existing llama.cpp build's binaries (llama-quantize,
#                llama-tokenize, llama-perplexity); this script never builds llama.cpp.
#                The committed fixtures were made with llama.cpp c392e5094.
# DUMP_LOGITS    a small program linked against that build's libllama:
#                `DUMP_LOGITS MODEL TOKENS_FILE OUT_FILE 1` decodes the token ids of
#                TOKENS_FILE in one batch (positions 0..n-1, one sequence, all logits
#                requested, 1 thread, default context parameters otherwise) and writes
#                llama_get_logits_ith(ctx, i) for i = 0..n-1 as raw float32 (n x n_vocab).
#                It is not part of this repository (see data/llamacpp/README.md).
# OUT_DIR        default: data/llamacpp under the repository.
#
# Environment: PYTHON (default python3) must import llama.cpp's gguf-py (`gguf`) and numpy.
# Run it from anywhere; paths are relative to the repository that holds this script.
set -eu

if [ $# -lt 2 ]; then
    sed -n '2,20p' "$0"; exit 2
fi
BIN=$1
DUMP=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${3:-$ROOT/data/llamacpp}
PY=${PYTHON:-python3}
SRC=$ROOT/models/austen-6m.gguf
TEXT=$ROOT/data/austen-test.txt
LAYERS=1
VOCAB=512
NTOK=64
PPL_ARGS="-c 128 --chunks 4 -b 128 -t 1"
PROMPT="It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition,"

for b in llama-quantize llama-tokenize llama-perplexity; do
    [ -x "$BIN/$b" ] || { echo "missing $BIN/$b" >&2; exit 1; }
done
[ -x "$DUMP" ] || { echo "missing $DUMP" >&2; exit 1; }

mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "llama.cpp: $("$BIN/llama-perplexity" --version 2>&1 | grep -m1 "^version" || true)"

# 1. the F32 sources: block 0 of austen-6m, vocabulary cut to 512 tokens; and a tied-head copy
"$PY" "$ROOT/tools/llamacpp_fixture_model.py" "$SRC" "$TMP/src.gguf" \
    --layers $LAYERS --vocab $VOCAB --name austen-6m-l1-v512
"$PY" "$ROOT/tools/llamacpp_fixture_model.py" "$SRC" "$TMP/src-tied.gguf" \
    --layers $LAYERS --vocab $VOCAB --drop-output --name austen-6m-l1-v512-tied

# 2. llama-quantize: NAME|SOURCE|ARGS|TYPE|EXPECT (EXPECT: the ggml type every 2-D tensor must have, '-' for mixes)
cat > "$TMP/list" <<EOF
austen-l1-f32|src|--pure|F32|F32
austen-l1-f16|src|--pure|F16|F16
austen-l1-bf16|src|--pure|BF16|BF16
austen-l1-q4_0|src|--pure|Q4_0|Q4_0
austen-l1-q4_1|src|--pure|Q4_1|Q4_1
austen-l1-q5_0|src|--pure|Q5_0|Q5_0
austen-l1-q5_1|src|--pure|Q5_1|Q5_1
austen-l1-q8_0|src|--pure|Q8_0|Q8_0
austen-l1-q2_k|src|--pure|Q2_K|Q2_K
austen-l1-q3_k|src|--pure|Q3_K|Q3_K
austen-l1-q4_k|src|--pure|Q4_K|Q4_K
austen-l1-q5_k|src|--pure|Q5_K|Q5_K
austen-l1-q6_k|src|--pure|Q6_K|Q6_K
austen-l1-iq4_nl|src|--pure|IQ4_NL|IQ4_NL
austen-l1-iq4_xs|src|--pure|IQ4_XS|IQ4_XS
austen-l1-q4_k_m|src||Q4_K_M|-
austen-l1-q4_0-mix|src||Q4_0|-
austen-l1-tied-q4_0|src-tied|--pure|Q4_0|Q4_0
austen-l1-tied-q6_k|src-tied|--pure|Q6_K|Q6_K
EOF

while IFS='|' read -r name src args type expect; do
    # shellcheck disable=SC2086
    "$BIN/llama-quantize" $args "$TMP/$src.gguf" "$OUT/$name.gguf" "$type" 1 < /dev/null > "$TMP/$name.quantize.log" 2>&1 \
        || { cat "$TMP/$name.quantize.log" >&2; exit 1; }
    if [ "$expect" != "-" ]; then
        "$PY" "$ROOT/tools/gguf_tensor_types.py" --check "$expect" "$OUT/$name.gguf" < /dev/null
    fi
done < "$TMP/list"

# llama-quantize's default Q8_0 mix: at c392e5094 it is byte-identical to the --pure file
# (every 2-D tensor Q8_0), so it is not kept; say so if that ever changes.
"$BIN/llama-quantize" "$TMP/src.gguf" "$TMP/q8_0-mix.gguf" Q8_0 1 < /dev/null > "$TMP/q8_0-mix.quantize.log" 2>&1
if cmp -s "$TMP/q8_0-mix.gguf" "$OUT/austen-l1-q8_0.gguf"; then
    echo "default Q8_0 mix: identical to austen-l1-q8_0.gguf"
else
    echo "default Q8_0 mix: DIFFERS from austen-l1-q8_0.gguf: $("$PY" "$ROOT/tools/gguf_tensor_types.py" "$TMP/q8_0-mix.gguf")"
fi

# 3. the token ids: BOS + llama.cpp's tokenization of PROMPT, first NTOK ids (same vocabulary in every file)
"$BIN/llama-tokenize" -m "$OUT/austen-l1-f32.gguf" -p "$PROMPT" --ids --log-disable 2>/dev/null \
    | tr -d '[],' | tr ' ' '\n' | grep . | head -n $NTOK | tr '\n' ' ' | sed 's/ $/\n/' > "$OUT/tokens.txt"
[ "$(wc -w < "$OUT/tokens.txt")" -eq $NTOK ] || { echo "tokenization gave fewer than $NTOK ids" >&2; exit 1; }

# the first 4 x 128 ids of llama.cpp's tokenization of the perplexity text (BOS first): the
# tokens llama-perplexity $PPL_ARGS scores, so the goldens can be checked without our tokenizer
"$BIN/llama-tokenize" -m "$OUT/austen-l1-f32.gguf" -f "$TEXT" --ids --log-disable 2>/dev/null \
    | tr -d '[],' | tr ' ' '\n' | grep . | head -n 512 | tr '\n' ' ' | sed 's/ $/\n/' > "$OUT/ppl-tokens.txt"
[ "$(wc -w < "$OUT/ppl-tokens.txt")" -eq 512 ] || { echo "perplexity text gave fewer than 512 ids" >&2; exit 1; }

# 4. goldens: logits of every position, and llama-perplexity on a small slice of austen-test.txt
printf 'file\tsha256\ttensor_types\tppl_params\tppl\tlogits_file\ttokens_file\n' > "$TMP/manifest"
while IFS='|' read -r name src args type expect; do
    f=$OUT/$name.gguf
    "$DUMP" "$f" "$OUT/tokens.txt" "$OUT/$name.logits" 1 < /dev/null > "$TMP/$name.dump.log" 2>&1 \
        || { cat "$TMP/$name.dump.log" >&2; exit 1; }
    # shellcheck disable=SC2086
    "$BIN/llama-perplexity" -m "$f" -f "$TEXT" $PPL_ARGS < /dev/null > "$TMP/$name.ppl.log" 2>&1 \
        || { cat "$TMP/$name.ppl.log" >&2; exit 1; }
    ppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\).*/\1 +\/- \2/p' "$TMP/$name.ppl.log")
    [ -n "$ppl" ] || { cat "$TMP/$name.ppl.log" >&2; exit 1; }
    sha=$(sha256sum "$f" | cut -d' ' -f1)
    types=$("$PY" "$ROOT/tools/gguf_tensor_types.py" "$f" < /dev/null)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name.gguf" "$sha" "$types" \
        "-f data/austen-test.txt $PPL_ARGS" "$ppl" "$name.logits" "tokens.txt" >> "$TMP/manifest"
    echo "$name: $ppl"
done < "$TMP/list"
mv "$TMP/manifest" "$OUT/MANIFEST.tsv"
