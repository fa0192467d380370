#!/usr/bin/env bash
# Installs what is missing (Debian packages, python3-numpy and python3-pip included for the Python
# example and tools/fetch_smollm2.sh), builds libagilequant and every tool in build/examples/ (not the
# tests: scripts/test.sh builds those in its own folders; about 2 minutes on 2 cores), and continues a
# prompt with the model that ships in the repository (models/austen-6m.gguf, trained on Jane Austen's
# novels).
# Usage: scripts/demo.sh [PROMPT]          (AQ_NO_INSTALL=1 skips the package step)
set -eu
cd "$(dirname "$0")/.."
prompt=${1:-"It is a truth universally acknowledged, that a single man in possession of a good fortune"}
packages=(meson ninja-build pkg-config gcc g++ libc6-dev libcpuinfo-dev libpthreadpool-dev libcmocka-dev libpcre2-dev
          libbenchmark-dev python3-numpy python3-pip)
if [ "${AQ_NO_INSTALL:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "installing: ${missing[*]}"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y update > /dev/null
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y install --no-install-recommends \
      "${missing[@]}" > /dev/null
  fi
fi
opts=(--buildtype=release -Dtests=false -Dbenchmarks=false)
[ -f build/build.ninja ] || meson setup --wipe build "${opts[@]}" > /dev/null 2>&1 || meson setup build "${opts[@]}" > /dev/null
echo "building the library and the tools in build/ (about 2 minutes on 2 cores)"
ninja -C build > /dev/null
tools=()
for f in build/examples/aq-*; do [ -f "$f" ] && [ -x "$f" ] && tools+=("$f"); done
echo "built: ${tools[*]}"
exec build/examples/aq-chat -m models/austen-6m.gguf -p "$prompt" -n 96 --temp 0.8 --seed 1
