#!/usr/bin/env bash
# Usage: cross/arm64-deps.sh DIR
#
# Makes DIR a small "sysroot" of the arm64 libraries the aarch64 cross build links against, and writes
# DIR/deps.ini, a second meson cross file that points the build at it:
#
#   meson setup B --cross-file cross/aarch64.ini --cross-file DIR/deps.ini
#
# Why: on Debian bookworm the arm64 -dev packages of cpuinfo and pthreadpool cannot be installed beside
# the amd64 ones that the native build needs:
#   - libcpuinfo-dev:arm64 clashes with libcpuinfo-dev:amd64 over /usr/lib/cmake/cpuinfo/*.cmake;
#   - libpthreadpool0 and libpthreadpool-dev are not Multi-Arch: same, so installing either for arm64
#     REMOVES the amd64 one (and with it everything that depends on it, python3-torch included).
# The headers are the same for every architecture, so DIR/include links to the ones in /usr/include
# (only these, so no amd64 header can leak into the cross build), and DIR/lib holds
#   libcpuinfo.so     -> /usr/lib/aarch64-linux-gnu/libcpuinfo.so.0   (package libcpuinfo0:arm64)
#   libcmocka.so      -> /usr/lib/aarch64-linux-gnu/libcmocka.so.0    (package libcmocka0:arm64)
#   libpcre2-8.so     -> /usr/lib/aarch64-linux-gnu/libpcre2-8.so.0   (package libpcre2-8-0:arm64)
#   libpthreadpool.so -> libpthreadpool.so.0 taken out of libpthreadpool0's arm64 .deb with
#                        `apt-get download` + `dpkg -x` (never installed; needs dpkg's arm64 architecture
#                        and an `apt-get update` after adding it), or the installed one if there is one.
# The test programs find libpthreadpool.so.0 at run time through an rpath to DIR/lib.
#
# Needs: gcc-aarch64-linux-gnu, libcpuinfo0:arm64, libcmocka0:arm64, libpcre2-8-0:arm64, libcpuinfo-dev,
# libpthreadpool-dev, libcmocka-dev, libpcre2-dev (for the headers). Idempotent: a second run only refreshes the links and files.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
multiarch=/usr/lib/aarch64-linux-gnu

mkdir -p "$dir/lib" "$dir/include" "$dir/pkgconfig"

need() {
  if [ ! -e "$1" ]; then
    echo "arm64-deps: $1 is missing (install $2)" >&2
    exit 1
  fi
}

# Headers: the architecture-independent ones of the amd64 -dev packages.
for h in cpuinfo.h pthreadpool.h cmocka.h pcre2.h; do
  need "/usr/include/$h" "the amd64 -dev package that has $h"
  ln -sfn "/usr/include/$h" "$dir/include/$h"
done

need "$multiarch/libcpuinfo.so.0" "libcpuinfo0:arm64"
need "$multiarch/libcmocka.so.0" "libcmocka0:arm64"
need "$multiarch/libpcre2-8.so.0" "libpcre2-8-0:arm64"
ln -sfn "$multiarch/libcpuinfo.so.0" "$dir/lib/libcpuinfo.so"
ln -sfn "$multiarch/libcmocka.so.0" "$dir/lib/libcmocka.so"
ln -sfn "$multiarch/libpcre2-8.so.0" "$dir/lib/libpcre2-8.so"

# pthreadpool: an installed arm64 runtime if someone has one, else the library from the package file.
pp=$multiarch/libpthreadpool.so.0
if [ ! -e "$pp" ]; then
  pp=$dir/deb/usr/lib/aarch64-linux-gnu/libpthreadpool.so.0
  if [ ! -e "$pp" ]; then
    rm -rf "$dir/deb"
    mkdir -p "$dir/deb"
    if ! (cd "$dir/deb" && apt-get download -q libpthreadpool0:arm64) > "$dir/deb.log" 2>&1; then
      cat "$dir/deb.log" >&2
      echo "arm64-deps: could not download libpthreadpool0:arm64; it needs" \
           "'dpkg --add-architecture arm64 && apt-get update' first" >&2
      exit 1
    fi
    dpkg -x "$dir"/deb/libpthreadpool0_*_arm64.deb "$dir/deb"
    need "$pp" "libpthreadpool0:arm64's .deb"
  fi
fi
ln -sfn "$pp" "$dir/lib/libpthreadpool.so.0"
ln -sfn libpthreadpool.so.0 "$dir/lib/libpthreadpool.so"

# pkg-config files for the libraries the build finds with dependency(): the cross build reads only
# these (pkg_config_libdir below), never the amd64 ones.
pc_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null | sed 's/[-+~].*//; s/^0\.0$/0.0.0/' || true; }
cat > "$dir/pkgconfig/libcpuinfo.pc" <<EOF
libdir=$dir/lib
includedir=$dir/include

Name: libcpuinfo
Description: CPU information (arm64 runtime library, amd64 header)
Version: $(pc_version libcpuinfo0:arm64)
Libs: -L\${libdir} -lcpuinfo
Cflags: -I\${includedir}
EOF
cat > "$dir/pkgconfig/cmocka.pc" <<EOF
libdir=$dir/lib
includedir=$dir/include

Name: cmocka
Description: The cmocka unit testing library (arm64 runtime library, amd64 header)
Version: $(pc_version libcmocka0:arm64)
Libs: -L\${libdir} -lcmocka
Cflags: -I\${includedir}
EOF

cat > "$dir/pkgconfig/libpcre2-8.pc" <<EOF
libdir=$dir/lib
includedir=$dir/include

Name: libpcre2-8
Description: PCRE2 8-bit (arm64 runtime library, amd64 header)
Version: $(pc_version libpcre2-8-0:arm64)
Libs: -L\${libdir} -lpcre2-8
Cflags: -I\${includedir}
EOF

# The second cross file. pthreadpool has no .pc file: the build finds it with cc.find_library() and
# has_headers, which see these compiler and linker arguments.
cat > "$dir/deps.ini" <<EOF
# Written by cross/arm64-deps.sh; use together with cross/aarch64.ini.
[properties]
pkg_config_libdir = ['$dir/pkgconfig']

[built-in options]
c_args = ['-I$dir/include']
c_link_args = ['-L$dir/lib', '-Wl,-rpath,$dir/lib']
cpp_args = ['-I$dir/include']
cpp_link_args = ['-L$dir/lib', '-Wl,-rpath,$dir/lib']
EOF
echo "arm64-deps: $dir ready (cross file $dir/deps.ini)"
