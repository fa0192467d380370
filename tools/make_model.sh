#!/usr/bin/env bash
# Rebuilds the shipped model from scratch, seeded: about 70 minutes on 2 cores (training is most of it).
#   1. Jane Austen's six novels from Debian's r-cran-janeaustenr -> data/austen-{train,test}.txt
#      (the last 10% of each novel's paragraphs held out)
#   2. a SentencePiece BPE tokenizer (4096) and a 6-layer LLaMA trained on the training text
#   3. models/austen-6m.gguf in llama.cpp's conventions, models/train.log
#   4. golden data for the tests from PyTorch: data/golden-logits.bin, data/golden-ppl.txt,
#      data/golden-tokens.txt
# Needs: python3-torch python3-sentencepiece python3-numpy libopenblas0-pthread (Debian).
# Usage: tools/make_model.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/aq-model}
py=/usr/bin/python3
mkdir -p "$work"
(cd "$work" && apt-get download r-cran-janeaustenr > /dev/null && dpkg -x r-cran-janeaustenr_*_all.deb pkg)
$py tools/extract_austen.py "$work"/pkg/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb data
OMP_NUM_THREADS=2 $py tools/train.py data/austen-train.txt "$work" | tee models/train.log
$py tools/export_gguf.py "$work/ckpt.pt" "$work/tokenizer.model" models/austen-6m.gguf
$py tools/golden.py "$work/ckpt.pt" "$work/tokenizer.model" data/austen-test.txt data
$py tools/golden_tokens.py "$work/tokenizer.model" data/golden-tokens.txt
