#!/bin/sh
# Regenerates docs/ACCURACY.md. Needs the build tools and python3-numpy
# (scripts/setup.sh installs both).
set -eu
cd "$(dirname "$0")/.."
[ -d build ] || meson setup build --buildtype=release
ninja -C build examples/aq-perplexity
exec /usr/bin/python3 tools/accuracy_table.py build "$@"
