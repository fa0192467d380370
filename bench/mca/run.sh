#!/usr/bin/env bash
# bench/mca/run.sh - static cycle estimates (llvm-mca, LLVM 14) of our NEON qd8 x qc4w
# GEMM loops and, given a llama.cpp source tree, of llama.cpp's own NEON loops for
# Q4_0 x Q8_0 beside them; printed as markdown, or written whole into a page.
#
# Usage: bench/mca/run.sh [--llama-cpp DIR] [--write FILE] [iterations]   (default 200)
#   e.g. bench/mca/run.sh --llama-cpp /work/scratch/llama.cpp --write docs/ARM.md
#
# Our kernels: each is compiled by clang-14 for aarch64 at -O2 with its own -march and
# -DAQ_MCA -DAQ_MCA_MR=<tokens>, which puts "LLVM-MCA-BEGIN" markers in the inner loop
# of the tile instantiation with that many tokens (kernels_neon/qc4w-packw.h; a normal
# build has no markers). extract.py takes that loop's whole basic block (one
# steady-state iteration, 16 k of the tile's 8 rows, or 32 k where the kernel says so
# with AQ_MCA_BEGIN_K; the loop symmetric activations run) from the assembly, and
# llvm-mca simulates it. A second row per kernel, "group of 32", simulates one
# iteration of the loop over groups for groups of 32 (the inner iterations of 32 k and
# the group's scales, zero-point correction if any, and float accumulation; for the
# dot-product and i8mm tiles, which are instantiated for groups of 32 apart, the group
# loop of that instantiation, one step of 32 k with no loop inside, marked <isa>-g32):
# llama.cpp's loops carry their per-block (32-weight) scale work inside, so the
# comparison uses these rows. The baseline is the reference GEMM's inner loop in plain
# C, auto-vectorized.
#
# llama.cpp's kernels (never part of this repository): compiled from the tree given
# with the same compiler, flags and -march per ISA, each loop found by extract.py in
# its function (the one-block loop with the most multiply instructions of its kind;
# SDOT / SMMLA words of inline assembly are disassembled with llvm-mc first). The work
# of every llama.cpp loop is checked: its 8-bit multiply-adds per iteration must equal
# weights x tokens as listed below, or the script stops.
#
# Models: LLVM 14 has a Cortex-A55 model; -mcpu=cortex-a72 and cortex-a76 fall back to
# the Cortex-A57 model (close to the A72, a rough guide for the A76). No LLVM 14 model
# is of a core with i8mm: both price SMMLA like a vector SDOT.
#
# "cycles / 256 w / token": cycles of one iteration x 256 / (weights per iteration per
# token x tokens): the cost of 256 multiply-adds per token. Needs clang-14, llvm-14
# (llvm-mca-14, llvm-mc-14) and c++filt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
llama=''
write=''
iters=200
while [ $# -gt 0 ]; do
  case $1 in
    --llama-cpp) llama=$(cd "$2" && pwd); shift 2 ;;
    --write) write=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) iters=$1; shift ;;
  esac
done
cc=${CLANG:-clang-14}
mca=${LLVM_MCA:-llvm-mca-14}
export LLVM_MC=${LLVM_MC:-llvm-mc-14}
for tool in "$cc" "$mca" "$LLVM_MC" c++filt; do
  command -v "$tool" > /dev/null || { echo "run.sh: $tool not found (apt-get install clang-14 llvm-14)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

march_of() {
  case $1 in
    neon) echo armv8-a ;;
    neondot) echo armv8.2-a+dotprod ;;
    i8mm) echo armv8.2-a+dotprod+i8mm ;;
    *) echo "run.sh: no -march known for ISA $1" >&2; exit 1 ;;
  esac
}

# One row per spec: id | label | kind (ours, base, llama) | source | -march | tokens |
# weights per iteration and token | extract.py arguments after the .s file
specs=()
# Each ISA's prefill tile: its tokens (mr), for the comparison's row ids.
declare -A mr_of
# The kernels come from the NEON list, kernels_neon/qd8-qc4w-gemm.inc (the list dispatch,
# the tests and bench/kernels.cc read): each entry AQ_QD8_QC4W_GEMM(isa, mr, nr, kr, gemm, packw)
# gives decode (1 token) and the full tile (mr tokens), each as the inner loop and as a group
# of 32. The source file is named after the kernel (aq_qd8_qc4w_gemm_<tile>__<isa> ->
# kernels_neon/qd8-qc4w-gemm-<tile>-<isa>.c), the -march after the ISA, and the marked loop,
# named after the ISA too, covers 16 k of nr rows (32 k with AQ_MCA_BEGIN_K: extract.py
# says which, and the weights per iteration below are counted with it).
while read -r isa mr nr _kr gemm; do
  isa=$(echo "$isa" | sed 's/^AQ_CPU_//' | tr '[:upper:]' '[:lower:]')
  tile=${gemm#aq_qd8_qc4w_gemm_}
  tile=${tile%%__*}
  src=$root/kernels_neon/qd8-qc4w-gemm-$tile-$isa.c
  march=$(march_of "$isa") || exit 1
  mr_of[$isa]=$mr
  for t in 1 "$mr"; do
    what=decode
    [ "$t" = 1 ] || what="prefill tile"
    specs+=("$isa-$t|ours: qd8 $tile $isa, $what, inner loop|ours|$src|$march|$t|$nr|$isa")
    specs+=("$isa-$t-g32|ours: qd8 $tile $isa, $what, group of 32|ours|$src|$march|$t|$nr|$isa --group-k 32")
  done
done < <(sed -n 's/^AQ_QD8_QC4W_GEMM(\([^,]*\), *\([0-9]*\), *\([0-9]*\), *\([0-9]*\), *\([a-z0-9_]*\),.*/\1 \2 \3 \4 \5/p' \
           "$root/kernels_neon/qd8-qc4w-gemm.inc")
specs+=(
  "base|baseline: ref loop auto-vectorized, armv8-a|base|$here/baseline.c|armv8-a|1|32|baseline"
  "base-dot|baseline: ref loop auto-vectorized, +dotprod|base|$here/baseline.c|armv8.2-a+dotprod|1|32|baseline"
)
llama_commit=''
if [ -n "$llama" ]; then
  llama_commit=$(git -C "$llama" rev-parse --short=9 HEAD 2> /dev/null || echo unknown)
  q=$llama/ggml/src/ggml-cpu/ggml-cpu-quants.c
  r=$llama/ggml/src/ggml-cpu/ggml-cpu-aarch64.cpp
  if [ ! -f "$q" ] || [ ! -f "$r" ]; then
    echo "run.sh: $llama has no ggml/src/ggml-cpu/ggml-cpu-{quants.c,aarch64.cpp}" >&2
    exit 1
  fi
  vd=ggml_vec_dot_q4_0_q8_0
  g=ggml::cpu::aarch64
  # Q4_0 x Q8_0: blocks of 32 weights with one f16 scale each, on both sides.
  specs+=(
    "ll-vd-neon|llama.cpp: $vd, NEON (no dot product)|llama|$q|armv8-a|1|64|--function $vd --op smull"
    "ll-vd-dot|llama.cpp: $vd, dot product|llama|$q|armv8.2-a+dotprod|1|64|--function $vd --op sdot"
    "ll-vd-i8mm|llama.cpp: $vd, i8mm (2 rows x 2 tokens)|llama|$q|armv8.2-a+dotprod+i8mm|2|64|--function $vd --op smmla"
    "ll-gemv44|llama.cpp: repacked Q4_0 4x4 gemv (dot product)|llama|$r|armv8.2-a+dotprod|1|128|--function void $g::gemv<block_q4_0, 4l, 4l> --op sdot"
    "ll-gemm44|llama.cpp: repacked Q4_0 4x4 gemm (dot product)|llama|$r|armv8.2-a+dotprod|16|128|--function void $g::gemm<block_q4_0, 4l, 4l> --op sdot"
    "ll-gemv48|llama.cpp: repacked Q4_0 4x8 gemv (i8mm CPUs; dot product)|llama|$r|armv8.2-a+dotprod+i8mm|1|128|--function void $g::gemv<block_q4_0, 8l, 4l> --op sdot"
    "ll-gemm48|llama.cpp: repacked Q4_0 4x8 gemm (i8mm)|llama|$r|armv8.2-a+dotprod+i8mm|16|128|--function void $g::gemm<block_q4_0, 8l, 4l> --op smmla"
  )
fi

declare -A a55 a57 a57lim names
rows=()
n=0
for spec in "${specs[@]}"; do
  IFS='|' read -r id label kind src march mr wpi xargs <<< "$spec"
  names[$id]=${label#ours: }
  names[$id]=${names[$id]%, group of 32}
  n=$((n + 1))
  s="$work/k$n.s"
  if [ "$kind" = llama ]; then
    lang=(-x c)
    [ "${src##*.}" = cpp ] && lang=(-x c++ -std=c++17)
    "$cc" "${lang[@]}" --target=aarch64-linux-gnu -O2 -march="$march" -w \
      -I"$llama/ggml/include" -I"$llama/ggml/src" -I"$llama/ggml/src/ggml-cpu" -S "$src" -o "$s"
    # The function name has spaces: the extract.py arguments are "--function NAME --op OP".
    fn=${xargs#--function }
    fn=${fn% --op *}
    python3 "$here/extract.py" "$s" --function "$fn" --op "${xargs##* }" > "$work/k$n.loop.s"
  else
    "$cc" --target=aarch64-linux-gnu -O2 -march="$march" -DAQ_MCA -DAQ_MCA_MR="$mr" \
      -DAQ_ARCH_KERNELS=1 -I"$root/kernels_neon" -I"$root/lib/kernels" -I"$root/kernels_ref" -I"$root/include" \
      -S "$src" -o "$s"
    # shellcheck disable=SC2086 # xargs is the ISA name and maybe "--group-k 32"
    python3 "$here/extract.py" "$s" $xargs > "$work/k$n.loop.s"
    # Our rows' wpi held the tile's rows: times the k the loop (or the group row) covers,
    # and only the rows of a pass where the loop is one (extract.py's "// rows").
    if [ "$kind" = ours ]; then
      passrows=$(sed -n 's|^// rows ||p' "$work/k$n.loop.s")
      wpi=$((${passrows:-$wpi} * $(sed -n 's|^// k ||p' "$work/k$n.loop.s")))
    fi
  fi
  macs=$(sed -n 's|^// macs ||p' "$work/k$n.loop.s")
  if [ "$kind" = llama ] && [ "$macs" != $((wpi * mr)) ]; then
    echo "run.sh: $label: the loop found does $macs multiply-adds an iteration, not $wpi weights x $mr tokens" >&2
    exit 1
  fi
  row="| $label | $mr | $wpi |"
  for cpu in cortex-a55 cortex-a72; do
    # cortex-a76 gives the same A57 model as cortex-a72 in LLVM 14 (checked below).
    r=$("$mca" -mtriple=aarch64 -mcpu=$cpu -mattr=+dotprod,+i8mm -iterations="$iters" -bottleneck-analysis \
          "$work/k$n.loop.s" 2>&1 | python3 "$here/summarize.py")
    cyc=${r%%$'\t'*}
    lim=${r#*$'\t'}
    per=$(python3 -c "print('%.1f' % ($cyc * 256 / ($wpi * $mr)))")
    if [ $cpu = cortex-a55 ]; then
      a55[$id]=$per
    else
      a57[$id]=$per
      # The A57 model's most loaded resource, also per 256 w / token (the prose below).
      a57lim[$id]=$(python3 -c "import re; print('%.1f' % (float(re.search(r' ([0-9.]+)', '$lim').group(1)) * 256 / ($wpi * $mr)))")
    fi
    row="$row $per ($cyc/iter) | $lim |"
  done
  rows+=("$row")
  if [ "$n" -eq 1 ]; then
    a72=$("$mca" -mtriple=aarch64 -mcpu=cortex-a72 -iterations=10 "$work/k$n.loop.s" 2>/dev/null | grep -m1 'Total Cycles')
    a76=$("$mca" -mtriple=aarch64 -mcpu=cortex-a76 -iterations=10 "$work/k$n.loop.s" 2>/dev/null | grep -m1 'Total Cycles')
    [ "$a72" = "$a76" ] || echo "(note: cortex-a76 differs from cortex-a72 here: $a76 vs $a72)" >&2
  fi
done

# The floor: what llvm-mca's own instruction tables give for the least work of 256
# multiply-adds per token of Q4_0 x Q8_0 (or our qd8 x qc4w, the same arithmetic)
# with tokens sharing each weight load: per 8 rows x 32 k (a block of 32 of 8 rows)
# and token, 16 SDOT (or 8 SMMLA, the i8mm CPUs') and the per-block float work both
# formats require, one SCVTF, one FMUL (the scale product) and one FMLA per 4 outputs
# (what llama.cpp's loops and ours do); per weight load, shared by the tokens,
# 16 one-instruction nibble unpacks (SHL / AND) and 2 FCVTL of the f16 scales.
# "Block RThroughput" of that straight line is its resource bound (dependencies
# ignored), divided by the tokens. tokens "inf": the multiply-adds and the float
# work alone, a floor for any number of tokens.
floor() { # op tokens cpu
  local f=$work/floor.s
  python3 - "$1" "$2" > "$f" << 'PY'
import sys
op, tokens = sys.argv[1], sys.argv[2]
n = 1 if tokens == 'inf' else int(tokens)
lines = []
lines += ['sdot v%d.4s, v30.16b, v31.4b[0]' if op == 'sdot' else 'smmla v%d.4s, v30.16b, v31.16b'] * (n * (16 if op == 'sdot' else 8))
lines += ['scvtf v%d.4s, v30.4s', 'fmul v%d.4s, v30.4s, v31.s[0]', 'fmla v%d.4s, v30.4s, v31.4s'] * (2 * n)
if tokens != 'inf':
    lines += ['shl v%d.16b, v30.16b, #4', 'and v%d.16b, v30.16b, v31.16b'] * 8 + ['fcvtl v%d.4s, v30.4h'] * 2
for i, l in enumerate(lines):
    print(l % (i % 24))
PY
  "$mca" -mtriple=aarch64 -mcpu="$3" -mattr=+dotprod,+i8mm -iterations=1 "$f" 2>/dev/null |
    python3 -c "import re, sys; print('%.1f' % (float(re.search(r'Block RThroughput:\\s+([0-9.]+)', sys.stdin.read()).group(1)) / $(python3 -c "print(1 if '$2' == 'inf' else $2)")))"
}

table() {
  echo "| loop | tokens | weights / iteration / token | A55: cycles / 256 w / token | A55 limit | A57 model (A72, A76): cycles / 256 w / token | A57 limit |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
}

# Side by side: our group-of-32 rows against llama.cpp's loops for the same work. The
# issue's target (issue 11): our dot-product and i8mm loops at <= 0.8x llama.cpp's cycles
# per weight; the plain-NEON pair is shown without a target.
compare() {
  echo "| work | ours (group of 32) | llama.cpp | A55: ours / llama.cpp | A57 model: ours / llama.cpp | target <= 0.8 | 0.8x llama.cpp: A55 / A57 | floor (decode: 1 token; prefill: any number): A55 / A57 | floor at our tile's tokens: A55 / A57 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local line ours theirs what target ra rb verdict op ta tb fa fb bad bounds tokens
  met_default=0 all_default=0 met_plain=0 all_plain=0
  for line in \
    "decode, dot product, llama.cpp not repacked|neondot-1-g32|ll-vd-dot|plain|sdot" \
    "decode, dot product, llama.cpp repacked (its default)|neondot-1-g32|ll-gemv44|default|sdot" \
    "prefill, dot product, llama.cpp repacked (its default)|neondot-${mr_of[neondot]}-g32|ll-gemm44|default|sdot" \
    "decode, i8mm CPU, llama.cpp not repacked|i8mm-1-g32|ll-vd-dot|plain|sdot" \
    "decode, i8mm CPU, llama.cpp repacked (its default)|i8mm-1-g32|ll-gemv48|default|sdot" \
    "prefill, i8mm, llama.cpp not repacked|i8mm-${mr_of[i8mm]}-g32|ll-vd-i8mm|plain|smmla" \
    "prefill, i8mm, llama.cpp repacked (its default)|i8mm-${mr_of[i8mm]}-g32|ll-gemm48|default|smmla" \
    "decode, plain NEON|neon-1-g32|ll-vd-neon|none|-" \
    "prefill, plain NEON|neon-${mr_of[neon]}-g32|ll-vd-neon|none|-"; do
    IFS='|' read -r what ours theirs target op <<< "$line"
    if [ -z "${a55[$ours]:-}" ] || [ -z "${a55[$theirs]:-}" ]; then continue; fi
    ra=$(python3 -c "print('%.2f' % (${a55[$ours]} / ${a55[$theirs]}))")
    rb=$(python3 -c "print('%.2f' % (${a57[$ours]} / ${a57[$theirs]}))")
    verdict='(no target)'
    bounds='| | | |'
    if [ "$target" != none ]; then
      verdict=$(python3 -c "a, b = $ra, $rb
print('met on both' if a <= 0.8 and b <= 0.8 else 'met on A55 only' if a <= 0.8 else 'met on A57 only' if b <= 0.8 else 'missed on both')")
      # Decode has one token, so its floor counts the unpacks and FCVTLs too.
      tokens=inf
      case $what in decode*) tokens=1 ;; esac
      fa=$(floor "$op" "$tokens" cortex-a55)
      fb=$(floor "$op" "$tokens" cortex-a72)
      ta=$(python3 -c "print('%.1f' % (0.8 * ${a55[$theirs]}))")
      tb=$(python3 -c "print('%.1f' % (0.8 * ${a57[$theirs]}))")
      bad=$(python3 -c "print(' '.join(m for m, f, t in (('A55', $fa, $ta), ('A57', $fb, $tb)) if f > t))")
      [ -z "$bad" ] || verdict="$verdict; floor above 0.8x on $bad: out of reach"
      # Our tile's tokens, from the row's id (isa-tokens-g32).
      tokens=${ours#*-}
      tokens=${tokens%-g32}
      bounds="| $ta / $tb | $fa / $fb | $(floor "$op" "$tokens" cortex-a55) / $(floor "$op" "$tokens" cortex-a72) ($tokens) |"
      if [ "$target" = default ]; then
        all_default=$((all_default + 1))
        [ "$verdict" != 'met on both' ] || met_default=$((met_default + 1))
      else
        all_plain=$((all_plain + 1))
        [ "$verdict" != 'met on both' ] || met_plain=$((met_plain + 1))
      fi
    fi
    echo "| $what | ${names[$ours]}: ${a55[$ours]} / ${a57[$ours]} | ${names[$theirs]#llama.cpp: }: ${a55[$theirs]} / ${a57[$theirs]} | $ra | $rb | $verdict $bounds"
  done
}

if [ -z "$write" ]; then
  table
  if [ -n "$llama" ]; then
    echo
    compare
  fi
  exit 0
fi

[ -n "$llama" ] || { echo "run.sh: --write needs --llama-cpp DIR (the page compares against llama.cpp)" >&2; exit 1; }
{
  echo "# Arm: static cycle estimates of the NEON loops, ours and llama.cpp's"
  echo
  echo "Written whole by \`bench/mca/run.sh --llama-cpp LLAMA_CPP --write $write\` (do not edit by hand); llama.cpp commit \`$llama_commit\`, compiled outside the repository by the script. $("$cc" --version | head -1); $("$mca" --version | grep -m1 -o 'LLVM version [0-9.]*'); $iters iterations a loop."
  echo
  echo "Every loop is compiled the same way (clang-14 --target=aarch64-linux-gnu -O2, -march per ISA: armv8-a, armv8.2-a+dotprod, armv8.2-a+dotprod+i8mm) and simulated on the same scheduling models: LLVM 14's Cortex-A55 model (in order) and its Cortex-A57 model, which -mcpu=cortex-a72 and cortex-a76 fall back to (close to the A72, a rough guide for the A76). Neither describes a core with i8mm: both price SMMLA like a vector SDOT (A57 model: latency 3, two a cycle), so the i8mm figures say what the instruction counts and dependencies cost on such a pipeline, not what a Neoverse N2 or Cortex-A710 measures. The A57 model also prices ZIP1/ZIP2 of 64-bit lanes at three micro-ops, which llama.cpp's i8mm dot product uses to pair tokens (our i8mm tiles read token pairs that the loop interleaved once per tile of activations, as llama.cpp's repacked gemm reads activations that its quantizer interleaved)."
  echo
  echo "Column \"cycles / 256 w / token\": cycles of one loop iteration x 256 / (weights per iteration and token x tokens), the cost of 256 multiply-adds per token. Our inner loops cover 32 k (dot product, i8mm) or 16 k (plain NEON) of a tile's 8 rows (the i8mm prefill tile's, 32 k of 4 rows: it goes over its 8 tokens in two passes of 4 rows); our \"group of 32\" rows cover a group loop iteration for groups of 32 (its inner iterations, or for the dot-product and i8mm tiles the one step of 32 k of their instantiation for groups of 32, which has no inner loop; and the per-group work: scales and float accumulation; the SDOT and SMMLA tiles store the codes signed, code - 8, so symmetric weights need no zero-point correction), the like of llama.cpp's loops, which do their per-block scale work inside (blocks of 32). Our loops are the ones symmetric (dynamically quantized) activations run: no code sums. llama.cpp's are found in its functions by extract.py, and the multiply-adds of each iteration are checked against the weights x tokens listed."
  echo
  echo "## Every loop"
  echo
  table
  echo
  echo "## Side by side, and the issue's target"
  echo
  echo "Issue 11's target on Arm, by the cost model: our dot-product and i8mm loops at <= 0.8x the cycles per weight of llama.cpp's for the same work. Each cell: A55 / A57 model, cycles / 256 w / token; ratios below 1 mean ours is cheaper. Which of llama.cpp's loops runs: at this commit it repacks Q4_0 matrices at load (its CPU_AARCH64 buffer type, \`ggml_aarch64_get_optimal_repack_type\`) into 4x8 blocks on CPUs with i8mm and 4x4 blocks on CPUs with the dot product, when the row count is a multiple of 4; so the repacked gemm / gemv loops are what it runs by default on those CPUs, and \`ggml_vec_dot_q4_0_q8_0\` is its path without repacking (and on plain-NEON CPUs)."
  echo
  compare > "$work/compare.md"
  cat "$work/compare.md"
  echo
  echo "Target (both models): met in $met_default of $all_default pairs against llama.cpp's default (repacked) loops, and in $met_plain of $all_plain against its loops without repacking."
  echo
  echo "Column \"floor\": the least cycles / 256 w / token the scheduling model allows for this work, from llvm-mca's own instruction tables (the Block RThroughput of a straight line of the instructions, dependencies ignored): per 8 rows x 32 k and token, the multiply-adds, 16 SDOT (8 SMMLA for i8mm prefill), and the float work per block that both formats require and both loops do, one SCVTF, one FMUL (weight scale x activation scale) and one FMLA per 4 outputs; for decode (one token, nothing shared) also the 16 nibble unpacks (one SHL or AND per 16 bytes of operands) and the 2 FCVTL of the f16 scales that each weight load costs. Prefill's floor is for any number of tokens (unpacks and scale conversions shared by all); the last column is the same floor with the unpacks and conversions shared by our tile's tokens only. Where the floor is above 0.8x llama.cpp's figure, no loop doing these multiply-adds and this float work meets the target on that model. So it is for prefill on dot-product CPUs in the A57 model: SDOT, SCVTF, FMUL and FMLA all go through the same two vector pipes (W and X; an FMUL or FMLA of 4 lanes holds both for a cycle), which puts the floor at $(floor sdot inf cortex-a72) cycles, while llama.cpp's repacked dot-product gemm runs at ${a57[ll-gemm44]}, $(python3 -c "print('%.2f' % (${a57[ll-gemm44]} / $(floor sdot inf cortex-a72)))")x the floor: 0.8x of it is below the floor."
  echo
  echo "What keeps our prefill tiles above the floor. The i8mm tile has 8 tokens, in two passes of 4 rows (8 rows x 8 tokens of integer and float accumulators would take all 32 vector registers; a pass holds 8 + 8), so each weight load's nibble unpacks and scale conversion serve 8 tokens where llama.cpp's gemm shares them by 16; it reads its activations from a copy the loop makes once per tile of 8 tokens, with token pairs interleaved by 8 k as SMMLA reads them, one 16-byte load an operand (loading the pairs with a load to a lane per 8 k of the second token instead left the tile bound by the A57 model's 3-wide dispatch). In the A57 model its group of 32 is bound by the vector pipes (the limit above, ${a57lim[i8mm-${mr_of[i8mm]}-g32]} cycles / 256 w / token, $(python3 -c "print('%.2f' % (${a57lim[i8mm-${mr_of[i8mm]}-g32]} / ${a57[ll-gemm48]}))")x llama.cpp's repacked i8mm gemm): besides the floor's instructions a pass zeroes its 8 integer accumulators every group (8 MOVI), unpacks 8 operands and converts and lays out 4 scales (FCVTL, 2 DUP); and the schedule's 3-wide dispatch (an LDP of two q registers is 3 micro-ops in this model) keeps the loop above that bound, at ${a57[i8mm-${mr_of[i8mm]}-g32]}. The dot-product tile has 4 tokens and is at its vector-pipe bound; on the in-order A55 what remains is latencies the compiler's schedule of one block does not hide."
} > "$write"
echo "run.sh: wrote $write"
