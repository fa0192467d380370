#!/usr/bin/env bash
# A fuzzing campaign: every harness of tests/fuzz/ (or the ones named), one after the other, each for
# SECONDS under libFuzzer, then a table of executions, speed, coverage and findings.
#
# Usage: tests/fuzz/campaign.sh SECONDS [HARNESS...]     (harnesses: gguf model tokenizer blocks params roundtrip)
# Environment:
#   AQ_FUZZ_BUILD  the -Dfuzz=true build (clang, ASan, UBSan), made if absent   default: build-fuzz
#   AQ_FUZZ_WORK   the corpora the campaign grows and its findings              default: $AQ_FUZZ_BUILD/campaign
#   AQ_FUZZ_NICE   the niceness the harnesses run at                           default: 10
# The seeds (tests/fuzz/corpus/) are read, never written: what a campaign finds goes to
# $AQ_FUZZ_WORK/corpus/NAME, so that a later campaign starts from it. A crash, leak, timeout or
# out-of-memory input lands in $AQ_FUZZ_WORK/findings/NAME/; once fixed, copy it to
# tests/fuzz/regressions/NAME/, where every build replays it (meson test --suite fuzz).
# Exits 1 if anything was found, 2 on a usage or build error.
set -u

cd "$(dirname "$0")/../.." || exit 2
all=(gguf model tokenizer blocks params roundtrip)
seconds=${1:-}
case $seconds in ''|*[!0-9]*) echo "usage: $0 SECONDS [${all[*]}]" >&2; exit 2 ;; esac
shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  case " ${all[*]} " in *" $h "*) ;; *) echo "unknown harness '$h' (${all[*]})" >&2; exit 2 ;; esac
done
build=${AQ_FUZZ_BUILD:-build-fuzz}
work=${AQ_FUZZ_WORK:-$build/campaign}
niceness=${AQ_FUZZ_NICE:-10}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=true -Db_lundef=false -Dbenchmarks=false -Dbuildtype=debugoptimized \
    > "$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 2; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/aq-fuzz-$h"); done
nice -n "$niceness" ninja -C "$build" -j "${AQ_JOBS:-2}" "${targets[@]}" > "$work.build.log" 2>&1 ||
  { mkdir -p "$work"; tail -n 30 "$work.build.log"; exit 2; }

# The seed folders of each harness: as tests/fuzz/meson.build gives them to the replay tests.
seeds() {
  local c=tests/fuzz/corpus
  case $1 in
    gguf) echo "$c/gguf $c/model tests/fuzz/regressions/gguf" ;;
    model|roundtrip) echo "$c/model tests/fuzz/regressions/$1" ;;
    *) echo "$c/$1 tests/fuzz/regressions/$1" ;;
  esac
}

rows=()
found=0
for h in "${harnesses[@]}"; do
  mkdir -p "$work/corpus/$h" "$work/findings/$h"
  dict=()
  case $h in gguf|model|roundtrip) dict=(-dict=tests/fuzz/gguf.dict) ;; esac
  read -r -a seed_dirs <<< "$(seeds "$h")"
  existing=()
  for d in "${seed_dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
  log=$work/$h.log
  before=$(find "$work/findings/$h" -type f | wc -l)
  echo "== $h: ${seconds} s (log: $log)"
  nice -n "$niceness" "$build/tests/fuzz/aq-fuzz-$h" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -max_len=262144 "${dict[@]}" -artifact_prefix="$work/findings/$h/" \
    "$work/corpus/$h" "${existing[@]}" > "$log" 2>&1
  status=$?
  after=$(find "$work/findings/$h" -type f | wc -l)
  new=$((after - before))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<< "$last")
  if [ "$new" -gt 0 ] || { [ "$status" -ne 0 ] && [ -z "$execs" ]; }; then
    found=$((found + (new > 0 ? new : 1)))
    grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 5 | sed 's/^/   /'
  fi
  rows+=("$(printf '%-10s %12s %8s %8s %8s %12s %8s' "$h" "${execs:--}" "${speed:--}" "${cov:--}" "${ft:--}" \
    "${corp:--}" "$new")")
done

echo
printf '%-10s %12s %8s %8s %8s %12s %8s\n' harness executions exec/s cov ft corpus findings
for r in "${rows[@]}"; do echo "$r"; done
if [ "$found" -gt 0 ]; then
  echo "findings in $work/findings/ (reproduce: $build/tests/fuzz/aq-fuzz-NAME FILE)"
  exit 1
fi
exit 0
