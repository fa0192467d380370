#!/bin/sh
# Regenerates docs/ACCURACY.md. Needs the build tools and python3-numpy
# (scripts/setup.sh installs both).
set -eu
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || meson setup --wipe build --buildtype=release 2>/dev/null || meson setup build --buildtype=release
ninja -C build examples/aq-perplexity
exec /usr/bin/python3 tools/accuracy_table.py build "$@"
