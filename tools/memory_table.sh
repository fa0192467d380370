#!/bin/bash
# Peak resident memory (/usr/bin/time -v's "Maximum resident set size") of
# quantizing, loading and running the TinyLlama-1.1B and LLaMA-7B shapes
# (aq-synth's F16 files), ours next to llama.cpp's on the same files; writes
# docs/MEMORY.md. No speed is measured.
#
#   tools/memory_table.sh BUILD LLAMA_CPP_BIN [WORK]
#
# BUILD: our meson build; LLAMA_CPP_BIN: a llama.cpp build's bin/ made outside
# the repository (llama-quantize, llama-bench); WORK: where the model files
# and each measurement are written (default /tmp/aq-memory; the 1.1B shape
# needs 4 GB of disk, the 7B shape 22 GB: its files are deleted at the end
# unless AQ_MEMORY_KEEP=1). AQ_MEMORY_SHAPES="tinyllama llama7b" picks the
# shapes; AQ_MEMORY_REUSE=1 keeps measurements WORK already holds (so that
# runs of one shape each, side by side, fill one table); AQ_MEMORY_ONLY, a
# list of steps (quantize-ours quantize-theirs quantize-gptq load-ours
# load-theirs run-ours run-theirs), runs only those. The table is rewritten
# after every measurement; a cell not measured yet reads "-". Running is
# -p 128 -n 32 on the 1.1B shape and -p 16 -n 4 on the 7B one (it shows that
# the 7B shape runs and what it holds; on a shared 2-core machine a longer run
# would take most of an hour and change no peak). llama.cpp's steps of a shape
# run before ours, so that its cheap cells fill first.
set -euo pipefail
usage="usage: tools/memory_table.sh BUILD LLAMA_CPP_BIN [WORK]"
build=$(realpath "${1:?$usage}")
llama=$(realpath "${2:?$usage}")
work=${3:-/tmp/aq-memory}
shapes=${AQ_MEMORY_SHAPES:-tinyllama llama7b}
root=$(cd "$(dirname "$0")/.." && pwd)
calib=$root/data/austen-train.txt
out=$root/docs/MEMORY.md
mkdir -p "$work"
commit=$(git -C "$llama/../.." rev-parse --short=9 HEAD 2>/dev/null || echo unknown)

# measure KEY [--makes FILE] COMMAND...: runs it under /usr/bin/time -v and
# keeps its peak RSS in GB (10^9 bytes) in WORK/KEY.rss; the table is then
# rewritten. A step that --makes a file the later steps read is reused only
# while that file is there.
measure() {
    local key=$1 log=$work/$1.time makes=
    shift
    if [ "$1" = --makes ]; then makes=$2; shift 2; fi
    if [ "${AQ_MEMORY_REUSE:-0}" = 1 ] && [ -s "$work/$key.rss" ] && { [ -z "$makes" ] || [ -s "$makes" ]; }; then
        return
    fi
    if [ -n "${AQ_MEMORY_ONLY:-}" ] && [[ " $AQ_MEMORY_ONLY " != *" ${key#*-} "* ]]; then return; fi
    echo "$key: $*" >&2
    if ! nice /usr/bin/time -v "$@" >"$work/$key.out" 2>"$log"; then
        echo "failed: $*" >&2
        tail -5 "$log" >&2
        exit 1
    fi
    awk '/Maximum resident set size/ {printf "%.2f\n", $6 * 1024 / 1e9}' "$log" >"$work/$key.rss"
    table
}
cell() { if [ -s "$work/$1.rss" ]; then cat "$work/$1.rss"; else echo -; fi; }
size() { if [ -s "$work/$1.size" ]; then cat "$work/$1.size"; else echo -; fi; }
keep_size() {
    if [ -s "$2" ]; then awk -v b="$(stat -L -c %s "$2")" 'BEGIN {printf "%.2f\n", b / 1e9}' >"$work/$1.size"; fi
}

table() {
    {
        cat <<'HEAD'
# Memory

Peak resident memory (`/usr/bin/time -v`, "Maximum resident set size", GB = 10^9 bytes) of
quantizing, loading and running models of the TinyLlama-1.1B and LLaMA-7B shapes: `aq-synth --preset`
files with F16 matrices (random weights: only sizes and memory mean anything here). Each cell is
ours / llama.cpp's on the same F16 file: ours quantized with `aq-quantize --scheme w4a8,rtn` (INT4
weights, Q8_0 output head and embedding), llama.cpp's with `llama-quantize F16 Q4_0`. Loading is
`aq-bench -p 0 -n 1 -r 1 -t 2 --bw-mib 0` / `llama-bench -p 0 -n 1 -r 1 -t 2` on the quantized file
(the model and one generated token), running the same with `-p 128 -n 32` (1.1B) or `-p 16 -n 4` (7B). GPTQ is
`aq-quantize --scheme w4a8` calibrating on `data/austen-train.txt` (8 chunks of 512 tokens), which
llama.cpp has no counterpart of. The target of issue 11: quantizing within the F16 file plus the
quantized one.

HEAD
        echo "Written by \`tools/memory_table.sh BUILD LLAMA_CPP_BIN\` (llama.cpp $commit); no speed is measured."
        echo
        echo "| shape | F16 file | quantized file, ours / Q4_0 | quantizing, w4a8,rtn / Q4_0 | quantizing, w4a8 (GPTQ) | loading | running |"
        echo "|---|---|---|---|---|---|---|"
        for s in tinyllama llama7b; do
            [ -s "$work/$s-f16.size" ] || continue
            echo "| $s | $(size $s-f16) | $(size $s-ours) / $(size $s-theirs) | $(cell $s-quantize-ours) / $(cell $s-quantize-theirs) | $(cell $s-quantize-gptq) | $(cell $s-load-ours) / $(cell $s-load-theirs) | $(cell $s-run-ours) / $(cell $s-run-theirs) |"
        done
        cat <<'TAIL'

How quantizing stays within the source file plus the result: `aq_quantize` works a layer at a time
(lib/quant/quantize.c, docs/ARCHITECTURE.md). The embedding table and the output head are made F32
and rotated first; then each layer's matrices are dequantized from the mapped file, balanced and
rotated, run in FP32 over the calibration chunks when the scheme calibrates (only that layer's
Hessians and samples exist at a time), quantized, packed, and their F32 copies freed. The loader
reads every tensor once to check that it is finite and then gives its pages of the read-only mapping
back (`madvise(MADV_DONTNEED)`), as quantizing does after each layer: the source file is never
resident as a whole. What stays is the quantized model, held twice for its INT4 matrices (the plain
layout that is saved and the kernel's packed tiles), and until the end the F32 embedding and head.
TAIL
    } >"$out"
}

for shape in $shapes; do
    f16=$work/synth-$shape-f16.gguf
    ours=$work/synth-$shape-w4a8-rtn.gguf
    theirs=$work/synth-$shape-q4_0.gguf
    run=(-p 128 -n 32)
    [ "$shape" = llama7b ] && run=(-p 16 -n 4)
    [ -s "$f16" ] || "$build/examples/aq-synth" --preset "$shape" -o "$f16" >/dev/null
    keep_size "$shape-f16" "$f16"
    measure "$shape-quantize-theirs" --makes "$theirs" "$llama/llama-quantize" "$f16" "$theirs" Q4_0
    keep_size "$shape-theirs" "$theirs"
    measure "$shape-load-theirs" "$llama/llama-bench" -m "$theirs" -p 0 -n 1 -r 1 -t 2
    measure "$shape-run-theirs" "$llama/llama-bench" -m "$theirs" "${run[@]}" -r 1 -t 2
    measure "$shape-quantize-ours" --makes "$ours" "$build/examples/aq-quantize" -m "$f16" -o "$ours" --scheme w4a8,rtn
    keep_size "$shape-ours" "$ours"
    measure "$shape-load-ours" "$build/examples/aq-bench" -m "$ours" -p 0 -n 1 -r 1 -t 2 --bw-mib 0
    measure "$shape-run-ours" "$build/examples/aq-bench" -m "$ours" "${run[@]}" -r 1 -t 2 --bw-mib 0
    if [ "$shape" = tinyllama ]; then
        measure "$shape-quantize-gptq" "$build/examples/aq-quantize" -m "$f16" -o "$work/gptq.gguf" --scheme w4a8 \
            --calib "$calib"
        rm -f "$work/gptq.gguf"
    fi
    if [ "$shape" = llama7b ] && [ "${AQ_MEMORY_KEEP:-0}" != 1 ]; then rm -f "$f16" "$ours" "$theirs"; fi
done
table
echo "wrote $out" >&2
