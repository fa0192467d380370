#!/usr/bin/env bash
# Formats the C sources with the repository's .clang-format, or checks them (--check).
# The style was fixed with clang-format 14 (Debian 12); other major versions break lines
# differently, so --check runs only with 14 and says so otherwise (exit 0).
# Usage: scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
format=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(git ls-files -- 'lib/*.[ch]' 'kernels_ref/*.[ch]' 'kernels_x86/*.[ch]' \
  'kernels_neon/*.[ch]' 'examples/*.[ch]' 'tests/*.[ch]' 'include/*.h' 'bench/*.cc')
if [ "${1:-}" = --check ]; then
  version=$("$format" --version | grep -o 'version [0-9]*' | cut -d' ' -f2)
  if [ "$version" != 14 ]; then
    echo "format check skipped: $format is version $version, the style is fixed with version 14"
    exit 0
  fi
  "$format" --dry-run --Werror "${files[@]}"
  echo "format check: ${#files[@]} files as .clang-format says"
else
  "$format" -i "${files[@]}"
fi
