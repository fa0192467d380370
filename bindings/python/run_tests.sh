#!/bin/sh
# Runs the Python binding's tests against a meson build folder:
#   bindings/python/run_tests.sh BUILD_DIR [pytest arguments...]
# BUILD_DIR must hold libagilequant.so.0 and examples/aq-chat. $PYTHON picks
# the interpreter (default python3; it needs pytest and numpy:
# apt-get install python3-pytest python3-numpy). Exits non-zero on failure.
set -eu
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILD_DIR [pytest arguments...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
lib=
for name in libagilequant.so.0 libagilequant.so libagilequant.0.dylib libagilequant.dylib; do
    if [ -e "$build/$name" ]; then
        lib=$build/$name
        break
    fi
done
if [ -z "$lib" ]; then
    echo "$0: no libagilequant in $build (build it first: ninja -C $build)" >&2
    exit 2
fi
export AGILEQUANT_BUILD_DIR="$build" AGILEQUANT_LIBRARY="$lib" PYTHONDONTWRITEBYTECODE=1
cd "$here"
# No cache folder, no pytest-benchmark folder in the source tree.
exec "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider -p no:benchmark tests "$@"
