#!/usr/bin/env bash
# bench/mca/run.sh - static cycle estimates of the NEON qc4w GEMM inner loops with
# llvm-mca (LLVM 14), printed as a markdown table.
#
# Each kernel is compiled by clang-14 for aarch64 at -O2 with its own -march and
# -DAQ_MCA -DAQ_MCA_MR=<tokens>, which puts "LLVM-MCA-BEGIN" markers in the inner
# loop of the tile instantiation with that many tokens (kernels_neon/qc4w-packw.h;
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

# The kernels come from the NEON list, kernels_neon/qd8-qc4w-gemm.inc (the list dispatch,
# the tests and bench/kernels.cc read): each entry AQ_QD8_QC4W_GEMM(isa, mr, nr, kr, gemm, packw)
# gives two rows, decode (1 token) and the full tile (mr tokens). The source file is named after
# the kernel (aq_qd8_qc4w_gemm_<tile>__<isa> -> kernels_neon/qd8-qc4w-gemm-<tile>-<isa>.c), the
# -march after the ISA, and the marked loop, named after the ISA too, covers 16 k of nr rows.
march_of() {
  case $1 in
    neon) echo armv8-a ;;
    neondot) echo armv8.2-a+dotprod ;;
    i8mm) echo armv8.2-a+dotprod+i8mm ;;
    *) echo "run.sh: no -march known for ISA $1" >&2; exit 1 ;;
  esac
}
# label | source | -march | tokens per tile | weights per loop iteration and token | region
kernels=()
while read -r isa mr nr _kr gemm; do
  isa=$(echo "$isa" | sed 's/^AQ_CPU_//' | tr '[:upper:]' '[:lower:]')
  tile=${gemm#aq_qd8_qc4w_gemm_}
  tile=${tile%%__*}
  src=kernels_neon/qd8-qc4w-gemm-$tile-$isa.c
  march=$(march_of "$isa") || exit 1
  kernels+=("qd8 $tile $isa, decode|$src|$march|1|$((nr * 16))|$isa")
  kernels+=("qd8 $tile $isa, prefill tile|$src|$march|$mr|$((nr * 16))|$isa")
done < <(sed -n 's/^AQ_QD8_QC4W_GEMM(\([^,]*\), *\([0-9]*\), *\([0-9]*\), *\([0-9]*\), *\([a-z0-9_]*\),.*/\1 \2 \3 \4 \5/p' \
           "$root/kernels_neon/qd8-qc4w-gemm.inc")
kernels+=(
  "baseline: ref loop auto-vectorized, armv8-a|bench/mca/baseline.c|armv8-a|1|32|baseline"
  "baseline: ref loop auto-vectorized, +dotprod|bench/mca/baseline.c|armv8.2-a+dotprod|1|32|baseline"
)

echo "| kernel | tokens | A55: cycles / 256 w / token | A55 limit | A57 model (A72, A76): cycles / 256 w / token | A57 limit |"
echo "|---|---|---|---|---|---|"
n=0
for spec in "${kernels[@]}"; do
  IFS='|' read -r label src march mr wpi region <<< "$spec"
  n=$((n + 1))
  s="$work/k$n.s"
  "$cc" --target=aarch64-linux-gnu -O2 -march="$march" -DAQ_MCA -DAQ_MCA_MR="$mr" \
    -DAQ_ARCH_KERNELS=1 -I"$root/kernels_neon" -I"$root/lib/kernels" -I"$root/kernels_ref" -I"$root/include" \
    -S "$root/$src" -o "$s"
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
