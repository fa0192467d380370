#!/usr/bin/env bash
# The ABI of libagilequant.so, checked three ways:
#   1. exports: the library defines exactly the functions include/agilequant.h declares with AQ_API
#      (nm -D), so no internal symbol leaks and none is lost;
#   2. no exits: the library references neither abort nor exit (nor _exit, _Exit, quick_exit):
#      an embedded library returns errors, it does not end its host;
#   3. compatibility: abidiff (Debian's abigail-tools) against the committed baseline
#      abi/libagilequant.abi. An incompatible change fails unless the soname moved with it; a
#      compatible one (a function or an enumerator added) passes and asks for a new baseline.
#      Needs the library's debug info (a debug or debugoptimized build); without it, or without
#      abidiff, this part is skipped and said so.
#
# Usage: abi/check.sh LIBRARY [SOURCE_ROOT]       checks (exit 0 ok, 1 failed, 77 skipped as a whole)
#        abi/check.sh --update LIBRARY [SOURCE_ROOT]  rewrites the baseline from LIBRARY
# meson test runs it as the test 'abi' (abi/meson.build).
set -u

update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
lib=${1:-}
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
header=$root/include/agilequant.h
baseline=$root/abi/libagilequant.abi
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
  echo "usage: $0 [--update] LIBRARY [SOURCE_ROOT]" >&2
  exit 2
fi
if ! command -v nm > /dev/null; then echo "abi: nm not found, skipped"; exit 77; fi
has_debug_info() { readelf -S "$1" 2> /dev/null | grep -q '\.debug_info'; }
abidw_args=(--headers-dir "$root/include" --drop-private-types --exported-interfaces-only --no-show-locs
            --no-comp-dir-path --no-corpus-path)

if [ $update -eq 1 ]; then
  has_debug_info "$lib" || { echo "abi: $lib has no debug info; build with -Dbuildtype=debugoptimized" >&2; exit 2; }
  abidw "${abidw_args[@]}" --out-file "$baseline" "$lib" || exit 1
  # Translation units named from the source root, whichever build folder wrote it.
  sed -i -E "s|(<abi-instr [^>]*path=')[^']*/(lib/[^']*')|\1\2|" "$baseline"
  echo "abi: wrote $baseline"
  exit 0
fi

failed=0

# 1. Exports against the header's AQ_API declarations.
declared=$(grep -E '^AQ_API ' "$header" | sed -E 's/\(.*//; s/.*[ *]([A-Za-z_][A-Za-z0-9_]*)$/\1/' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [ "$declared" != "$exported" ]; then
  echo "abi: the exported symbols differ from the header's AQ_API declarations:"
  diff <(echo "$declared") <(echo "$exported") | sed -n 's/^</  declared, not exported:/p; s/^>/  exported, not declared:/p'
  failed=1
else
  echo "abi: $(echo "$exported" | wc -l) exported functions, as include/agilequant.h declares"
fi

# 2. No path out of the host process.
exits=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
  grep -E '^(abort|exit|_exit|_Exit|quick_exit)$' || true)
if [ -n "$exits" ]; then
  echo "abi: the library calls $(echo "$exits" | tr '\n' ' ')(an error must be returned instead)"
  failed=1
else
  echo "abi: no abort, exit, _exit, _Exit or quick_exit"
fi

# 3. Compatibility with the baseline.
if ! command -v abidiff > /dev/null; then
  echo "abi: abidiff not found (apt-get install abigail-tools): compatibility not checked"
elif ! has_debug_info "$lib"; then
  echo "abi: $lib has no debug info: compatibility not checked (it is, in a debugoptimized build)"
elif [ ! -f "$baseline" ]; then
  echo "abi: no baseline $baseline (abi/check.sh --update LIBRARY writes it)"
  failed=1
else
  report=$(abidiff --hd2 "$root/include" --drop-private-types --exported-interfaces-only --no-show-locs \
    "$baseline" "$lib" 2>&1)
  rc=$?
  old_soname=$(sed -n "s/^<abi-corpus .*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n 1)
  new_soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
  if [ $((rc & 3)) -ne 0 ]; then
    echo "abi: abidiff failed (status $rc):"
    echo "$report"
    failed=1
  elif [ $((rc & 8)) -ne 0 ]; then
    if [ -n "$old_soname" ] && [ "$old_soname" != "$new_soname" ]; then
      echo "abi: incompatible with the baseline, and the soname moved ($old_soname -> $new_soname): refresh the baseline"
    else
      echo "abi: INCOMPATIBLE with the baseline (soname still $new_soname):"
      echo "$report"
      failed=1
    fi
  elif [ $((rc & 4)) -ne 0 ]; then
    # abidiff flags only removals as incompatible; a changed type is a change to review. What
    # passes is growth alone: functions or variables added, nothing removed or changed.
    not_added=$(sed -n 's/.*summary: \([0-9]*\) Removed, \([0-9]*\) Changed.*/\1 \2/p; s/.*summary: \([0-9]*\) Removed, [0-9]* Added.*/\1/p' \
      <<< "$report" | tr ' ' '\n' | awk '{n += $1} END {print n + 0}')
    if [ "$not_added" -eq 0 ] || { [ -n "$old_soname" ] && [ "$old_soname" != "$new_soname" ]; }; then
      echo "abi: compatible with the baseline, which it extends (refresh it: abi/check.sh --update LIBRARY):"
    else
      echo "abi: CHANGED from the baseline (soname still $new_soname): change it back, or move the soname"
      failed=1
    fi
    while IFS= read -r line; do echo "  $line"; done <<< "$report"
  else
    echo "abi: the same as the baseline ($new_soname)"
  fi
fi
exit $failed
