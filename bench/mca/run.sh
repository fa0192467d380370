#!/usr/bin/env bash
# bench/mca/run.sh - static cycle estimates of the NEON qc4w GEMM inner loops with
# llvm-mca (LLVM 14), printed as a markdown table.
#
# Each kernel is compiled by clang-14 for aarch64 at -O2 with its own -march and
# -DAQ_MCA -DAQ_MCA_MR=<tokens>, which puts "LLVM-MCA-BEGIN" markers in the inner
# loop of the tile instantiation with that many tokens (kernels_neon/qc4w-pack.h;
# a normal build has no markers). extract.py takes that loop's whole basic block
# (one steady-state iteration) from the assembly, and llvm-mca simulates it.
# The baseline is the reference GEMM's inner loop in plain C, auto-vectorized.
#
# Models: LLVM 14 has a Cortex-A55 model; -mcpu=cortex-a72 and cortex-a76 fall
# back to the Cortex-A57 model (close to the A72, a rough guide for the A76), so
# those two columns are the same model and are printed as one.
#
# Column "cycles / 256 w / token": cycles of one iteration x 256 / (weights per
# iteration per token x tokens in the tile): the cost of 256 multiply-adds per
# token. Needs clang-14 and llvm-14 (apt-get install clang-14 llvm-14).
# Usage: bench/mca/run.sh [iterations]   (default 200)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
iters=${1:-200}
cc=${CLANG:-clang-14}
mca=${LLVM_MCA:-llvm-mca-14}
for tool in "$cc" "$mca"; do
  command -v "$tool" > /dev/null || { echo "run.sh: $tool not found (apt-get install clang-14 llvm-14)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# label | source | -march | tokens per tile | weights per loop iteration and token | region
kernels=(
  "qd8 2x8c16 neon (SMLAL), decode|kernels_neon/qd8-qc4w-gemm-2x8c16-neon.c|armv8-a|1|128|neon"
  "qd8 2x8c16 neon (SMLAL), prefill tile|kernels_neon/qd8-qc4w-gemm-2x8c16-neon.c|armv8-a|2|128|neon"
  "qd4 2x8c16 neonmul16 (W4A4 packed mul), decode|kernels_neon/qd4-qc4w-gemm-2x8c16-neonmul16.c|armv8-a|1|128|neonmul16"
  "qd4 2x8c16 neonmul16 (W4A4 packed mul), prefill tile|kernels_neon/qd4-qc4w-gemm-2x8c16-neonmul16.c|armv8-a|2|128|neonmul16"
  "qd8 4x8c4 neondot (SDOT), decode|kernels_neon/qd8-qc4w-gemm-4x8c4-neondot.c|armv8.2-a+dotprod|1|128|neondot"
  "qd8 4x8c4 neondot (SDOT), prefill tile|kernels_neon/qd8-qc4w-gemm-4x8c4-neondot.c|armv8.2-a+dotprod|4|128|neondot"
  "baseline: ref loop auto-vectorized, armv8-a|bench/mca/baseline.c|armv8-a|1|32|baseline"
  "baseline: ref loop auto-vectorized, +dotprod|bench/mca/baseline.c|armv8.2-a+dotprod|1|32|baseline"
)
if [ -f "$root/kernels_neon/qd8-qc4w-gemm-4x8c8-i8mm.c" ]; then
  kernels+=("qd8 4x8c8 i8mm (SMMLA), prefill tile|kernels_neon/qd8-qc4w-gemm-4x8c8-i8mm.c|armv8.2-a+i8mm|4|64|i8mm")
fi

echo "| kernel | tokens | A55: cycles / 256 w / token | A55 limit | A57 model (A72, A76): cycles / 256 w / token | A57 limit |"
echo "|---|---|---|---|---|---|"
n=0
for spec in "${kernels[@]}"; do
  IFS='|' read -r label src march mr wpi region <<< "$spec"
  n=$((n + 1))
  s="$work/k$n.s"
  "$cc" --target=aarch64-linux-gnu -O2 -march="$march" -DAQ_MCA -DAQ_MCA_MR="$mr" \
    -I"$root/kernels_ref" -I"$root/lib" -I"$root/include" -S "$root/$src" -o "$s"
  python3 "$here/extract.py" "$s" "$region" > "$work/k$n.loop.s"
  row="| $label | $mr |"
  for cpu in cortex-a55 cortex-a72; do
    # cortex-a76 gives the same A57 model as cortex-a72 in LLVM 14 (checked below).
    r=$("$mca" -mtriple=aarch64 -mcpu=$cpu -mattr=+dotprod,+i8mm -iterations="$iters" -bottleneck-analysis \
          "$work/k$n.loop.s" 2>&1 | python3 "$here/summarize.py")
    cyc=${r%%$'\t'*}
    lim=${r#*$'\t'}
    per=$(python3 -c "print('%.1f (%.1f/iter)' % ($cyc * 256 / ($wpi * $mr), $cyc))")
    row="$row $per | $lim |"
  done
  echo "$row"
  if [ "$n" -eq 1 ]; then
    a72=$("$mca" -mtriple=aarch64 -mcpu=cortex-a72 -iterations=10 "$work/k$n.loop.s" 2>/dev/null | grep -m1 'Total Cycles')
    a76=$("$mca" -mtriple=aarch64 -mcpu=cortex-a76 -iterations=10 "$work/k$n.loop.s" 2>/dev/null | grep -m1 'Total Cycles')
    [ "$a72" = "$a76" ] || echo "(note: cortex-a76 differs from cortex-a72 here: $a76 vs $a72)" >&2
  fi
done
