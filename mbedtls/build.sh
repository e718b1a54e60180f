#!/usr/bin/env bash
# Builds mbedtls/build/ota-mbedtls.wasm: mbedTLS 3.6 LTS from Debian's source package plus glue.c, compiled
# with Debian's clang-14 for wasm32-wasi. Nothing third-party is committed; this script fetches the pinned
# source package through apt (a private deb-src list, so the machine's apt configuration is untouched),
# checks the upstream tarball's sha256, unpacks it with dpkg-source and runs make.
#
# Exit codes: 0 built (or up to date), 3 toolchain missing (the message names the packages), 1 anything else.
# Environment: OTA_DEBIAN_MIRROR overrides the archive URI (default: the one this machine's apt already uses).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"

# Pinned source packages, tried in order: suite, Debian version, upstream tarball, its sha256. Debian keeps only
# the newest version of a suite, so a second pin keeps fresh machines building when the first one is superseded.
# 3.6.7 first: 3.6.6 rejects rsa_pss_rsae ServerKeyExchange signatures from TLS 1.2-only RSA servers
# (measured here; fixed upstream by Mbed-TLS/mbedtls#10674, in 3.6.7) and misses 3.6.7's security fixes; see docs/mbedtls.md.
CANDIDATES=(
  "sid 3.6.7-3 mbedtls_3.6.7.orig.tar.bz2 a7e8bcbec0e6f761b4af24f25677626b35f762f68eef79c08677a363212d11f6"
  "trixie 3.6.6-0.1~deb13u1 mbedtls_3.6.6.orig.tar.bz2 8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a"
)
APT_PACKAGES="dpkg-dev clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 make"

fail_toolchain() {
  echo "mbedtls/build.sh: cannot build the mbedTLS wasm module: $1." >&2
  echo "Install the toolchain (Debian 12 or later), then run 'npm run build:mbedtls':" >&2
  echo "  apt-get install -y --no-install-recommends $APT_PACKAGES" >&2
  exit 3
}

missing=()
for tool in clang-14 wasm-ld-14 make dpkg-source apt-get sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f /usr/lib/wasm32-wasi/libc.a ] || missing+=("wasi-libc (/usr/lib/wasm32-wasi/libc.a)")
compgen -G "/usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a" >/dev/null ||
  missing+=("libclang_rt.builtins-wasm32.a")
[ ${#missing[@]} -eq 0 ] || fail_toolchain "missing ${missing[*]}"

# The archive URI this machine's apt already trusts, so no host name lives in the project.
debian_mirror() {
  if [ -n "${OTA_DEBIAN_MIRROR:-}" ]; then echo "$OTA_DEBIAN_MIRROR"; return; fi
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  echo "$uri"
}

sha_ok() { echo "$2  $1" | sha256sum -c --status 2>/dev/null; }

# Fetches the pinned source package of one candidate into $download with apt; returns non-zero if apt cannot.
fetch_candidate() {
  local suite="$1" version="$2"
  local mirror apt_dir
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || { echo "mbedtls/build.sh: no Debian archive URI found in apt's sources; set OTA_DEBIAN_MIRROR." >&2; return 1; }
  apt_dir="$build/apt-$suite"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt_dir/sources.list"
  local apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Sandbox::User=root)
  echo "mbedtls/build.sh: fetching Debian source package mbedtls=$version ($suite)"
  apt-get -qq "${apt_opts[@]}" update || return 1
  (cd "$download" && apt-get -qq "${apt_opts[@]}" source --download-only "mbedtls=$version") || return 1
}

download="$build/download"
mkdir -p "$download"
# Test files build on demand and may start together: one build at a time, the others then find it done.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$build/.lock"
  flock 9
fi
chosen=""
for candidate in "${CANDIDATES[@]}"; do
  read -r suite version orig sha <<<"$candidate"
  if [ -f "$build/src/mbedtls-$version/.ota-unpacked" ] || sha_ok "$download/$orig" "$sha"; then chosen="$candidate"; break; fi
done
if [ -z "$chosen" ]; then
  for candidate in "${CANDIDATES[@]}"; do
    read -r suite version orig sha <<<"$candidate"
    if fetch_candidate "$suite" "$version" && [ -f "$download/$orig" ]; then
      if sha_ok "$download/$orig" "$sha"; then chosen="$candidate"; break; fi
      echo "mbedtls/build.sh: $orig does not have the pinned sha256 $sha; refusing it." >&2
      rm -f "$download/$orig"
    else
      echo "mbedtls/build.sh: mbedtls=$version is not available from $suite; trying the next pin." >&2
    fi
  done
fi
if [ -z "$chosen" ]; then
  echo "mbedtls/build.sh: none of the pinned mbedTLS source packages could be fetched and verified:" >&2
  printf '  %s\n' "${CANDIDATES[@]}" >&2
  echo "Check that apt reaches a Debian archive (or set OTA_DEBIAN_MIRROR), or pin the suite's current version in mbedtls/build.sh." >&2
  exit 1
fi
read -r suite version orig sha <<<"$chosen"
source_dir="$build/src/mbedtls-$version"
if [ ! -f "$source_dir/.ota-unpacked" ]; then
  rm -rf "$source_dir"
  mkdir -p "$build/src"
  # dpkg-source checks the .dsc's checksums of both tarballs and applies Debian's two build patches.
  if ! log=$(dpkg-source -x "$download/mbedtls_$version.dsc" "$source_dir" 2>&1); then
    echo "$log" >&2
    exit 1
  fi
  touch "$source_dir/.ota-unpacked"
fi

start=$(date +%s.%N)
make -s -C "$here" -j"$(nproc)" SRC="$source_dir" OUT="$build" OBJ="$build/obj-$version" "$build/ota-mbedtls.wasm"
end=$(date +%s.%N)

# The stamp lets scripts/ensure-mbedtls.mjs tell a current build from a stale one.
stamp=$(cat "$here/glue.c" "$here/mbedtls_config.h" "$here/Makefile" "$here/build.sh" | sha256sum | cut -d' ' -f1)
size=$(stat -c %s "$build/ota-mbedtls.wasm")
cat >"$build/build-info.json" <<JSON
{"mbedtls":"$version","suite":"$suite","orig":"$orig","sha256":"$sha","compiler":"$(clang-14 --version | head -1)","bytes":$size,"makeSeconds":$(awk "BEGIN { printf \"%.1f\", $end - $start }"),"inputs":"$stamp"}
JSON
echo "mbedtls/build.sh: built $build/ota-mbedtls.wasm ($size bytes, mbedTLS $version from $suite)"
