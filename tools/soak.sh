#!/usr/bin/env bash
# Soak: at every quantization scheme, 100,000 generated tokens on models/austen-6m.gguf with the KV
# cache full the whole time (context shift, as aq-chat does; an error stops the run and fails it),
# and the process's resident memory (VmRSS, VmHWM, and RssAnon, VmRSS's anonymous part, where a leak would
# show: the file-backed rest may shrink when the kernel reclaims it) after 1,000 tokens and at the end.
# Target: VmRSS at the end within 1% of its value after 1,000 tokens.
#
# Usage: tools/soak.sh BUILD_DIR [TOKENS [CONTEXT [SCHEME...]]]
#   BUILD_DIR  a meson build of the library (libagilequant.so in it)
#   TOKENS     tokens generated per scheme           default 100000
#   CONTEXT    KV cache slots (AQ_PARAM_CONTEXT_LENGTH) default 256: full after 256 tokens, shifted
#              about every 128 tokens from then on, so the run is in its steady state well before 1,000
#   SCHEME     default: fp32 w4a16 w4a8 w4a4 w4a8-paper w4a4-paper q4_0 q8_0
# Calibration (GPTQ, static scales, TRIP): the first 64 KiB of data/austen-train.txt.
# Exits 1 if a run failed or ended more than 1% above its resident memory after 1,000 tokens.
set -u

cd "$(dirname "$0")/.." || exit 2
build=${1:-}
if [ -z "$build" ] || [ ! -f "$build/libagilequant.so" ]; then
  echo "usage: $0 BUILD_DIR [TOKENS [CONTEXT [SCHEME...]]]   (BUILD_DIR/libagilequant.so must exist)" >&2
  exit 2
fi
tokens=${2:-100000}
context=${3:-256}
shift $(($# < 3 ? $# : 3))
schemes=("$@")
[ ${#schemes[@]} -gt 0 ] || schemes=(fp32 w4a16 w4a8 w4a4 w4a8-paper w4a4-paper q4_0 q8_0)

bin=$build/tools-soak
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -o "$bin" tools/soak.c -L"$build" -lagilequant \
  -Wl,-rpath,"$(cd "$build" && pwd)" || exit 2

status=0
for s in "${schemes[@]}"; do
  line=$("$bin" models/austen-6m.gguf "$s" data/austen-train.txt 65536 "$tokens" "$context") || {
    echo "$s: FAILED"
    status=1
    continue
  }
  echo "$line"
  change=$(sed -n 's/.*RSS change \([-+][0-9.]*\)%.*/\1/p' <<< "$line")
  awk -v c="$change" 'BEGIN { exit !(c > 1.0) }' && { echo "$s: resident memory grew by more than 1%"; status=1; }
done
exit $status
