#!/usr/bin/env bash
# valgrind's memcheck on a short run of each tool of examples/: no invalid read or write, no use of
# uninitialised memory, no leak (definite, indirect or possible: a thread never joined leaks its stack).
#
# Usage: tools/valgrind.sh BUILD_DIR [RUN...]   (a meson build with examples/aq-* built; a release build
#                                              is fine, debugoptimized gives better stacks). RUN: only
#                                              these runs (aq-synth always runs: the others need its model)
# Each run's log goes to BUILD_DIR/valgrind/NAME.log. Prints one line a run and exits 1 if any failed.
set -u

cd "$(dirname "$0")/.." || exit 2
build=${1:-}
shift $(($# > 0 ? 1 : 0))
only=("$@")
if [ -z "$build" ] || [ ! -x "$build/examples/aq-chat" ]; then
  echo "usage: $0 BUILD_DIR [RUN...] (with examples/aq-* built)" >&2
  exit 2
fi
command -v valgrind > /dev/null || { echo "valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 2; }
ex=$build/examples
logs=$build/valgrind
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$logs"
model=models/austen-6m.gguf
head -c 4096 data/austen-train.txt > "$tmp/calib.txt"
head -c 2048 data/austen-test.txt > "$tmp/test.txt"

status=0
# run NAME COMMAND...: memcheck on COMMAND; errors and leaks make valgrind exit with 99.
run() {
  local name=$1 t0=$SECONDS
  shift
  if valgrind --tool=memcheck --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
       --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes --log-file="$logs/$name.log" \
       "$@" > "$logs/$name.out" 2>&1; then
    printf '%-22s clean (%s s)\n' "$name" $((SECONDS - t0))
  else
    printf '%-22s FAILED: %s (see %s)\n' "$name" \
      "$(grep -m1 'ERROR SUMMARY' "$logs/$name.log" | sed 's/^==[0-9]*== //')" "$logs/$name.log"
    status=1
  fi
}

# The tools run on a small synthetic model (aq-synth's), except one aq-chat run on austen-6m: under
# memcheck, loading and running the real 6M-parameter model takes ten minutes on a busy machine.
want() { [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $1 "* ]]; }
synth=$tmp/synth.gguf
run aq-synth "$ex/aq-synth" -o "$synth" --preset austen --dim 64 --layers 2 --heads 2 --kv-heads 2 --ffn 128 \
  --vocab 512 --ctx 64
want aq-chat && run aq-chat "$ex/aq-chat" -m "$model" -p "Emma" -n 40 --ctx 16 -t 2
want aq-chat-stdin && run aq-chat-stdin "$ex/aq-chat" -m "$synth" -n 8 --ctx 16 -t 1 <<< "a b c"
want aq-quantize && run aq-quantize "$ex/aq-quantize" -m "$synth" -o "$tmp/w4a8.gguf" --scheme w4a8 \
  --calib "$tmp/calib.txt"
want aq-quantize-q4_0 && run aq-quantize-q4_0 "$ex/aq-quantize" -m "$synth" -o "$tmp/q4_0.gguf" --scheme q4_0
want aq-perplexity && run aq-perplexity "$ex/aq-perplexity" -m "$tmp/w4a8.gguf" -f "$tmp/test.txt" --ctx 32 \
  --chunks 2 -t 2 --kv8
want aq-perplexity-prune && run aq-perplexity-prune "$ex/aq-perplexity" -m "$synth" -f "$tmp/test.txt" --ctx 32 \
  --chunks 1 -t 1 --prune 0.3 --scheme w4a4 --calib "$tmp/calib.txt"
want aq-bench && run aq-bench "$ex/aq-bench" -m "$tmp/q4_0.gguf" -p 16 -n 4 -t 1,2 -r 1 --bw-mib 16
exit $status
