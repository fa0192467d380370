#!/usr/bin/env bash
# tests/x86emu/run.sh BUILD: runs every kernel of the x86-64 lists that needs more
# than AVX2 (AVX-VNNI, AVX-512 VNNI) in BochsCPU, on the shapes of the list-driven
# tests, each output compared bit for bit with its reference twin (README.md).
# BUILD is a meson build folder of this tree (x86-64); the script builds there what
# it needs (tests/x86emu_gen, the kernel library) and works in BUILD/x86emu.
# Exit 0: every case matched. 1: a mismatch or a failed run. 77: skipped (not
# x86-64, or no BochsCPU: PyPI unreachable, no venv module). Environment: CC
# (default cc) links the driver; PYTHON (default python3) makes the venv;
# AQ_X86EMU_FLIP=1 flips one expected bit per kernel (the run must then fail).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$src/../.." && pwd)
build=$(cd "$1" && pwd)
work=$build/x86emu
start=$SECONDS

# tests/meson.build defines x86emu_gen in x86-64 builds only.
if [ "$(uname -m)" != x86_64 ] || ! ninja -C "$build" -t query tests/x86emu_gen >/dev/null 2>&1; then
  echo "x86emu: not an x86-64 build on an x86-64 machine, skipped"
  exit 77
fi

ninja -C "$build" tests/x86emu_gen lib/kernels/libaq_kernels.a >/dev/null
mkdir -p "$work"

# BochsCPU from PyPI, in a venv of the build folder (once).
venv=$work/venv
py=$venv/bin/python
if ! "$py" -c 'import importlib.metadata as m; assert m.version("bochscpu-python") == "0.4.0"' 2>/dev/null; then
  rm -rf "$venv"
  if ! "${PYTHON:-python3}" -m venv "$venv" >"$work/venv.log" 2>&1; then
    echo "x86emu: cannot make a Python venv (${PYTHON:-python3} -m venv; Debian: apt install python3-venv), skipped"
    tail -3 "$work/venv.log"
    exit 77
  fi
  if ! "$py" -m pip install --disable-pip-version-check --timeout 30 --retries 2 \
      bochscpu-python==0.4.0 >"$work/pip.log" 2>&1; then
    echo "x86emu: pip could not install bochscpu-python==0.4.0 (PyPI unreachable?), skipped; $work/pip.log:"
    tail -3 "$work/pip.log"
    rm -rf "$venv"
    exit 77
  fi
fi

# The cp312-abi3 wheel (Python 3.12 and later) names its module for 3.12 only
# (_bochscpu.cpython-312-*.so), though the module uses only the stable ABI: Python
# 3.13 (Debian 13) imports it under the abi3 name.
pkg=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')/bochscpu
for so in "$pkg"/_bochscpu.cpython-312-*.so; do
  [ -e "$so" ] && [ ! -e "$pkg/_bochscpu.abi3.so" ] && ln -s "$(basename "$so")" "$pkg/_bochscpu.abi3.so"
done

# The wheel calls glibc 2.38's __isoc23_* functions: on an older glibc (Debian 12)
# a small shim provides them, preloaded; a newer one (Debian 13) needs none.
preload=
if ! "$py" -c 'import bochscpu' 2>"$work/import.log"; then
  if ! grep -q __isoc23 "$work/import.log"; then
    echo "x86emu: bochscpu does not import:" >&2
    cat "$work/import.log" >&2
    exit 1
  fi
  "${CC:-cc}" -std=c11 -O2 -shared -fPIC "$src/isoc23.c" -o "$work/libisoc23.so"
  preload=$work/libisoc23.so
  LD_PRELOAD=$preload "$py" -c 'import bochscpu'
  echo "x86emu: glibc $(getconf GNU_LIBC_VERSION | cut -d' ' -f2) lacks __isoc23_*: isoc23.c preloaded"
fi

# The driver, from the build's own kernel objects, with no C library: a static ELF
# at 4 MiB, below the image (emu.h).
"${CC:-cc}" -std=c11 -O2 -ffreestanding -fno-pic -fno-stack-protector -fcf-protection=none -fno-builtin \
  -nostdlib -static -Wl,-Ttext-segment=0x400000 -DAQ_ARCH_KERNELS=1 \
  -I"$src" -I"$root/lib/kernels" -I"$root/kernels_ref" -I"$root/kernels_x86" -I"$root/include" \
  "$src/driver.c" "$build/lib/kernels/libaq_kernels.a" -o "$work/driver.elf"

"$build/tests/x86emu_gen" "$work"
rc=0
LD_PRELOAD=$preload "$py" "$src/run.py" "$work" || rc=$?
echo "x86emu: $((SECONDS - start)) s"
exit $rc
