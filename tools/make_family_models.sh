#!/usr/bin/env bash
# Rebuilds the BLOOM- and OPT-architecture Austen models from scratch, seeded.
# The two trainings run at once, one thread each, under nice -n 19 (other work
# takes priority): planned as about an hour each from a throughput test, they
# took 1 h 56 min (OPT) and 2 h 15 min (BLOOM) on a 2-core machine whose load
# average stayed at 10-28 (they got about half the throughput measured).
#   1. byte-level BPE vocabularies (4096) with Hugging Face tokenizers==0.23.3,
#      trained twice to check that they are reproducible
#   2. a 4-layer BLOOM (320 wide, 5 heads) and a 4-layer OPT (256 wide, 4 heads)
#      trained on data/austen-train.txt (tools/train_family.py), logs in
#      models/train-bloom.log and models/train-opt.log
#   3. models/austen-bloom.gguf (llama.cpp's bloom) and models/austen-opt.gguf
#      (tools/OPT_FORMAT.md), F32
#   4. golden data from PyTorch: data/golden-{bloom,opt}-{logits.bin,ppl.txt,tokens.txt}
#   5. if LLAMA_CPP_BIN names llama.cpp's build/bin: both tokenizers checked against
#      llama-tokenize, and llama-perplexity run on the bloom file; if HF_VENV names a venv
#      with transformers==4.44.2 and gguf: both files loaded into transformers' Bloom/OPT
#      models and their logits compared with the golden ones (tools/check_family_hf.py)
# Needs: Debian's python3-torch python3-numpy python3-sentencepiece libopenblas0-pthread python3-venv,
# and data/austen-{train,test}.txt, data/brown-sample.txt (tools/make_model.sh, extract_brown.py).
# Usage: tools/make_family_models.sh [WORK_DIR]     (VENV=dir to reuse a venv)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/aq-family}
venv=${VENV:-$work/venv}
mkdir -p "$work"
if [ ! -x "$venv/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -c 'import tokenizers; assert tokenizers.__version__ == "0.23.3"' 2>/dev/null ||
    "$venv/bin/pip" install -q tokenizers==0.23.3
py=$venv/bin/python

for f in bloom opt; do
    mkdir -p "$work/$f" "$work/check-$f"
    $py tools/family_tokenizer.py $f data/austen-train.txt "$work/$f/tokenizer.json"
    $py tools/family_tokenizer.py $f data/austen-train.txt "$work/check-$f/tokenizer.json"
    cmp "$work/$f/tokenizer.json" "$work/check-$f/tokenizer.json"
done

pids=()
for f in bloom opt; do
    OMP_NUM_THREADS=1 nice -n 19 "$py" tools/train_family.py $f data/austen-train.txt "$work/$f" \
        > models/train-$f.log 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

for f in bloom opt; do
    $py tools/export_family_gguf.py "$work/$f/ckpt.pt" "$work/$f/tokenizer.json" models/austen-$f.gguf
    OMP_NUM_THREADS=2 $py tools/golden_family.py "$work/$f/ckpt.pt" "$work/$f/tokenizer.json" \
        data/austen-test.txt data --ood data/brown-sample.txt
done

if [ -n "${LLAMA_CPP_BIN:-}" ]; then
    for f in bloom opt; do
        $py tools/check_family_tokenizer.py $f "$work/$f/tokenizer.json" "$LLAMA_CPP_BIN/llama-tokenize" \
            data/austen-train.txt data/austen-test.txt data/brown-sample.txt
    done
    for c in 128 512; do
        chunks=()
        [ $c = 128 ] && chunks=(--chunks 8)
        "$LLAMA_CPP_BIN/llama-perplexity" -m models/austen-bloom.gguf -f data/austen-test.txt -c $c -t 2 \
            "${chunks[@]}" 2>&1 | grep -E "^\[|Final estimate"
    done
fi

if [ -n "${HF_VENV:-}" ]; then
    for f in bloom opt; do
        OMP_NUM_THREADS=2 "$HF_VENV/bin/python" tools/check_family_hf.py models/austen-$f.gguf \
            data/golden-$f-logits.bin 2>&1 | grep -v past_key_values
    done
fi
